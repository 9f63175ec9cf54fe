from tests.faults.services import celery_restored, redis_server, start_worker  # noqa: F401
