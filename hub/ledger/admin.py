"""Read-only admin pages: the ledger is written by its services only, never edited by hand."""

from django.contrib import admin

from hub.ledger.models import Alarm, Block, Endorsement, Entry, EvmAnchor
from hub.readonly import ReadOnlyAdmin


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ("height", "entry_count", "csds", "sealed_at", "hub_key_id", "block_hash")
    search_fields = ("block_hash", "merkle_root")


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "csds", "block", "appended_at")
    list_filter = ("kind",)
    search_fields = ("reference", "record_hash")
    raw_id_fields = ("block",)


@admin.register(Endorsement)
class EndorsementAdmin(ReadOnlyAdmin):
    list_display = ("block", "csd", "key_id", "endorsed_at")
    list_filter = ("csd",)


@admin.register(EvmAnchor)
class EvmAnchorAdmin(ReadOnlyAdmin):
    list_display = ("block", "status", "chain_id", "nonce", "tx_hash", "receipt_block", "failure")
    list_filter = ("status",)


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdmin):
    list_display = ("kind", "csd", "first_height", "last_height", "raised_at", "seen_at", "message")
    list_filter = ("kind",)
