from celery import shared_task


@shared_task(name="hub.ops.ping", ignore_result=False)
def ping(token: str) -> str:
    """Answers a health probe; echoing the token proves the reply is to this probe."""
    return token
