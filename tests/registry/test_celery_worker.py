import pytest

from registry.models import Department
from registry.tasks import worker_health


@pytest.mark.redis
def test_a_real_worker_runs_a_task_through_redis_against_the_test_database(celery_worker):
    Department.objects.create(code="W", name="Worker check", time_zone="UTC")
    result = celery_worker(worker_health)
    from django.db import connection

    assert result["database"] == connection.settings_dict["NAME"]
    assert result["departments"] == 1


def test_without_a_broker_tasks_run_in_process(db):
    # The embedded registry has no Redis: the same task runs eagerly.
    assert worker_health.delay().get()["departments"] == 0
