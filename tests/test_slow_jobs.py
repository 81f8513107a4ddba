"""Long jobs (Gatys) through real worker processes: previews, cancel, a killed worker, and fast work beside them."""
import signal

import pytest
from django.urls import reverse
from PIL import Image

from tfapp.models import Transfer

from .conftest import CONTENT_DIR, STYLE_DIR, done_with_previews, media_files, shared_upload, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.model, pytest.mark.django_db(transaction=True)]

# Small enough to keep the suite quick, large enough for three scales and several previews.
SIDE = 256


@pytest.fixture(autouse=True)
def small_outputs(settings):
    settings.NST_MAX_CONTENT_SIZE = SIDE
    settings.NST_MAX_PENDING_PER_CLIENT = 50


def submit(client, method="gatys", quality="standard"):
    response = client.post(reverse("tfapp:upload"), {
        "content_image": shared_upload(CONTENT_DIR / "chelsea.png"), "style_image": shared_upload(
            STYLE_DIR / "starry_night.jpg"), "method": method, "quality": quality if method == "gatys" else ""})
    assert response.status_code == 302, response.context["form"].errors
    return Transfer.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])


def current(transfer):
    return Transfer.objects.get(pk=transfer.pk)


def test_previews_appear_while_gatys_runs_and_go_once_it_is_done(client, workers, isolated_storage):
    """While it runs, status.json reports progress and a preview; when done, only the result remains."""
    workers("--queues", "slow", NST_PREVIEW_INTERVAL="0.5")
    transfer = submit(client)
    seen = []

    def previewing():
        state = client.get(reverse("tfapp:status", args=[transfer.public_id])).json()
        if state["preview_url"] and state["progress"]:
            seen.append(state)
        return len({state["preview_url"] for state in seen}) >= 2 or state["status"] == "done"

    wait_for(previewing, timeout=120)
    assert len({state["preview_url"] for state in seen}) >= 2, "the preview did not update while it ran"
    assert all(0 < state["progress"] < 1 and state["eta_seconds"] is not None for state in seen)
    wait_for(lambda: current(transfer).status == Transfer.Status.DONE, timeout=240)
    done = current(transfer)
    assert not done.preview_image and done.progress == 1.0
    assert not any("preview" in name for name in media_files(isolated_storage))
    with done.result_image.open("rb") as stored:
        assert Image.open(stored).size == (SIDE, round(SIDE * 300 / 451))


def test_cancel_stops_a_running_gatys_job_within_seconds(client, workers, isolated_storage):
    """Cancel while it optimises: it ends cancelled, with no result and no preview file, and the worker goes on."""
    workers("--queues", "slow", NST_PREVIEW_INTERVAL="0.5")
    transfer = submit(client, quality="fine")
    wait_for(lambda: current(transfer).preview_image, timeout=120)
    client.post(reverse("tfapp:cancel", args=[transfer.public_id]))
    assert current(transfer).status == Transfer.Status.CANCELLED
    folder = f"transfers/{transfer.public_id}/"
    wait_for(lambda: not any(name.startswith(folder + "preview") for name in media_files(isolated_storage)),
             timeout=10)
    assert not current(transfer).result_image
    following = submit(client, quality="draft")
    wait_for(lambda: current(following).status == Transfer.Status.DONE, timeout=120)
    assert current(transfer).status == Transfer.Status.CANCELLED
    assert not any(name.startswith(folder + "result") for name in media_files(isolated_storage))


def test_a_killed_slow_worker_job_is_retried_and_finishes(client, workers, isolated_storage):
    """SIGKILL to the worker mid-optimisation: another slow worker starts it again and finishes it."""
    victim = workers("--queues", "slow")
    transfer = submit(client)
    wait_for(lambda: current(transfer).progress, timeout=120)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers("--queues", "slow")
    wait_for(lambda: done_with_previews(transfer), timeout=300)
    done = current(transfer)
    assert done.attempts == 2
    assert media_files(isolated_storage) == sorted(field.name for field in done.files())


def test_a_fast_transfer_finishes_while_a_gatys_job_is_still_running(client, workers):
    """With a worker per queue, a Magenta transfer queued behind a running Gatys job does not wait for it."""
    workers("--queues", "slow")
    workers("--queues", "default")
    slow = submit(client, quality="fine")
    wait_for(lambda: current(slow).status == Transfer.Status.RUNNING, timeout=120)
    fast = submit(client, method="magenta")
    assert current(fast).queue_position == 1
    wait_for(lambda: current(fast).status == Transfer.Status.DONE, timeout=120)
    assert current(slow).status == Transfer.Status.RUNNING
    client.post(reverse("tfapp:cancel", args=[slow.public_id]))
