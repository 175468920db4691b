from django.core.management.base import BaseCommand

from hub.ledger import services


class Command(BaseCommand):
    help = (
        "Seals every pending ledger entry now, then gets endorsements and anchors (what the beat task does)."
    )

    def handle(self, *args, **options) -> None:
        heights = services.blocks_seal_and_finalise()
        self.stdout.write(
            f"sealed {len(heights)} blocks" + (f": {heights[0]}..{heights[-1]}" if heights else "")
        )
