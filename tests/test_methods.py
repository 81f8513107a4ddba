"""Methods per transfer: the registry, the choice in the form, cancel, siblings and the status fields."""
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from tfapp import engines
from tfapp.exceptions import ModelUnavailable
from tfapp.models import Transfer

from .conftest import CONTENT_DIR, STYLE_DIR, make_image, media_files, upload
from .factories import make_transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(client, django_capture_on_commit_callbacks):
    """Post the upload form like the browser, running the job it enqueues; returns the response."""
    def post(**data):
        fields = {"content_image": upload("photo.png", make_image((96, 64))),
                  "style_image": upload("style.png", make_image((64, 64))), **data}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("tfapp:upload"), fields)
    return post


@pytest.fixture
def user(client, django_user_model):
    """A signed-in user, who owns the transfers made with ``make_transfer(owner=user)``."""
    person = django_user_model.objects.create_user("ada", password="a long passphrase 42")
    client.force_login(person)
    return person


def form_error_codes(response):
    form = response.context["form"]
    return [error.code for errors in form.errors.as_data().values() for error in errors]


def test_the_registry_loads_a_method_once_and_reads_declarations_without_loading(fresh_engine):
    """Declarations come from the class; the weights are loaded on first use only, once."""
    declared = engines.method_class("magenta")
    assert declared.queue == "default" and declared.capabilities.strength
    loads = engines.load_count
    first, second = engines.get("magenta"), engines.get("magenta")
    assert first is second and engines.load_count == loads + 1


def test_an_unknown_method_is_unavailable_with_the_known_ones_listed():
    """Asking for a method that does not exist names the ones that do."""
    with pytest.raises(ModelUnavailable, match="magenta"):
        engines.get("cubism")


def test_the_chosen_method_is_recorded_on_the_transfer(submit):
    """A transfer remembers its method and runs in that method's queue."""
    response = submit(method="magenta")
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert (transfer.method, transfer.queue, transfer.status) == ("magenta", "default", Transfer.Status.DONE)


def test_an_unknown_method_is_a_form_error(submit):
    """A method the site does not offer is refused by the form, and nothing is stored."""
    response = submit(method="cubism")
    assert response.status_code == 200 and "invalid_choice" in form_error_codes(response)
    assert not Transfer.objects.exists()


def test_a_quality_for_a_method_without_qualities_is_refused(submit):
    """Magenta has no quality presets, so asking it for one is a form error naming the method."""
    response = submit(method="magenta", quality="draft")
    assert "no_quality" in form_error_codes(response)
    assert "has no quality" in response.content.decode()


def test_upload_page_lists_every_method_with_its_description(client):
    """The page offers each method by label, with what it is good for."""
    page = client.get(reverse("tfapp:upload")).content.decode()
    for name in engines.names():
        declared = engines.method_class(name)
        assert f'value="{name}"' in page and declared.label in page


def test_status_json_has_progress_preview_and_eta_for_every_transfer(client):
    """A queued transfer is at 0, a done one at 1; neither has a preview or time left."""
    queued, done = make_transfer(run=False), make_transfer()
    for transfer, fraction in ((queued, 0.0), (done, 1.0)):
        state = client.get(reverse("tfapp:status", args=[transfer.public_id])).json()
        assert state["progress"] == fraction
        assert state["preview_url"] is None and state["eta_seconds"] is None
        assert state["method"] == "magenta"


def test_a_running_transfer_without_progress_reports_an_estimate_of_time_left(client):
    """While a method reports no progress, the time left comes from its estimate for the size."""
    transfer = make_transfer(run=False)
    from django.utils import timezone
    Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.RUNNING, started_at=timezone.now())
    state = client.get(reverse("tfapp:status", args=[transfer.public_id])).json()
    assert state["progress"] is None and state["eta_seconds"] is not None and state["eta_seconds"] >= 0


def test_cancelling_a_queued_transfer_ends_it_cancelled_with_no_result(client, user, isolated_storage):
    """Cancel (a POST) stops a queued transfer; a worker reaching it later skips it."""
    from tfapp.processing import run_transfer

    transfer = make_transfer(run=False, owner=user)
    response = client.post(reverse("tfapp:cancel", args=[transfer.public_id]))
    assert response.status_code == 302
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.CANCELLED and not transfer.result_image
    assert not any("result" in name or "preview" in name for name in media_files(isolated_storage))
    assert "was cancelled" in client.get(transfer.get_absolute_url()).content.decode()


def test_only_the_owner_can_cancel(client, django_user_model):
    """Someone else's transfer cannot be cancelled: 403, and it stays queued."""
    transfer = make_transfer(run=False, owner=django_user_model.objects.create_user("bob"))
    assert client.post(reverse("tfapp:cancel", args=[transfer.public_id])).status_code == 403
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.QUEUED


def test_cancel_needs_a_post_and_leaves_a_finished_transfer_alone(client, user):
    """A GET cannot cancel, and a done transfer stays done with its result."""
    transfer = make_transfer(owner=user)
    assert client.get(reverse("tfapp:cancel", args=[transfer.public_id])).status_code == 405
    client.post(reverse("tfapp:cancel", args=[transfer.public_id]))
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE and transfer.result_image


def test_a_cancelled_transfer_can_be_run_again(client, user, django_capture_on_commit_callbacks):
    """"Run it again" queues a cancelled transfer, which then finishes."""
    transfer = make_transfer(run=False, owner=user)
    client.post(reverse("tfapp:cancel", args=[transfer.public_id]))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tfapp:retry", args=[transfer.public_id]))
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE


def test_trying_another_method_reruns_the_same_inputs_as_a_sibling(client, user, django_capture_on_commit_callbacks):
    """"Try another method" makes a new transfer of the same photo and styles, shown side by side."""
    first = make_transfer(owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tfapp:try_method", args=[first.public_id]), {"method": "magenta"})
    second = Transfer.objects.exclude(pk=first.pk).get()
    assert response["Location"] == second.get_absolute_url()
    assert second.inputs_id == first.inputs_id and second.status == Transfer.Status.DONE
    assert second.owner == user
    assert second.strength == first.strength and second.max_size == first.max_size
    page = client.get(first.get_absolute_url()).content.decode()
    assert second.result_preview.url in page and "other methods" in page


def test_trying_an_unknown_method_says_why_on_the_transfer_page(client):
    """A refused method is reported on the page of the transfer, and nothing is created."""
    first = make_transfer()
    response = client.post(reverse("tfapp:try_method", args=[first.public_id]), {"method": "cubism"}, follow=True)
    assert Transfer.objects.count() == 1
    assert "not one of the available choices" in response.content.decode()


def test_a_new_upload_is_not_a_sibling_of_an_earlier_one(submit):
    """Transfers of separate uploads never share inputs."""
    submit(), submit()
    assert Transfer.objects.values("inputs_id").distinct().count() == 2


def test_queue_position_counts_only_the_transfers_own_queue():
    """A transfer waiting in the default queue is not behind slow-queue jobs."""
    slow = make_transfer(run=False)
    Transfer.objects.filter(pk=slow.pk).update(queue="slow")
    fast = make_transfer(run=False)
    assert Transfer.objects.get(pk=fast.pk).queue_position == 1
    assert Transfer.objects.queue_positions()[fast.public_id] == 1


def test_stylize_command_takes_a_method(tmp_path):
    """`manage.py stylize --method magenta` writes the result at the photo's size."""
    from PIL import Image

    output = tmp_path / "out.png"
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "the_scream.jpg"), "-o", str(output),
                 "--method", "magenta", "--max-size", "128")
    assert Image.open(output).size == (128, 85)


def test_stylize_command_refuses_an_engine_for_another_method(tmp_path):
    """--engine picks Magenta's implementation, so it makes no sense with another method."""
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--engine"):
        call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "the_scream.jpg"), "-o",
                     str(tmp_path / "out.png"), "--method", "gatys", "--engine", "lite")


def test_a_method_without_weights_is_unavailable_on_the_page_with_the_command(client, settings, tmp_path,
                                                                               fresh_engine):
    """Missing VGG-19 weights: Gatys is shown unavailable, with the command that fetches them."""
    settings.NST_VGG_WEIGHTS = tmp_path / "missing.npz"
    page = client.get(reverse("tfapp:upload")).content.decode()
    radios = {name: re.search(rf'<input[^>]*id="id_method_{name}"[^>]*>', page).group(0) for name in ("magenta", "gatys")}
    assert "disabled" in radios["gatys"] and "disabled" not in radios["magenta"]
    assert "download_models --engine vgg" in page


def test_the_pages_say_what_runs_without_loading_any_method(client, fresh_engine):
    """A web process offers every method whose files are present, and loads none of them."""
    loads = engines.load_count
    page = client.get(reverse("tfapp:upload")).content.decode()
    assert engines.load_count == loads
    assert all(engines.unavailable_reason(name) is None for name in ("magenta", "adain", "gatys"))
    assert engines.load_count == loads
    assert "disabled" not in re.search(r'<input[^>]*id="id_method_gatys"[^>]*>', page).group(0)


def test_damaged_weights_are_offered_and_the_transfer_fails_with_the_reason(settings, tmp_path, fresh_engine):
    """Present but damaged weights pass the check; the worker's load fails the transfer with why, and pages say so."""
    from tfapp.pipeline import Options
    from tfapp.processing import run_transfer

    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a numpy archive")
    settings.NST_VGG_WEIGHTS = damaged
    assert engines.unavailable_reason("gatys") is None
    transfer = make_transfer(run=False, options=Options(method="gatys", quality="draft"))
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert str(damaged) in transfer.error_message and "download_models --engine vgg" in transfer.error_message
    assert "download_models --engine vgg" in engines.unavailable_reason("gatys")


def test_a_job_for_a_method_without_weights_fails_with_the_reason(settings, tmp_path, fresh_engine):
    """A queued Gatys transfer whose weights went missing fails with the sentence, and the worker goes on."""
    from tfapp.pipeline import Options

    transfer = make_transfer(run=False, options=Options(method="gatys", quality="draft"))
    settings.NST_VGG_WEIGHTS = tmp_path / "missing.npz"
    from tfapp.processing import run_transfer

    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert "download_models --engine vgg" in transfer.error_message


def test_a_gatys_run_longer_than_the_slow_queue_allows_is_refused_with_the_time(submit, settings):
    """With a 60 s limit on slow jobs, Gatys (fine) at 1024 px is refused, saying how long it would take."""
    settings.NST_SLOW_JOB_TIME_LIMIT = 60
    response = submit(method="gatys", quality="fine", content_image=upload("photo.png", make_image((1024, 768))),
                      output_size="1024")
    assert "too_slow" in form_error_codes(response)
    assert "2 minutes for a 1024 x 768 px result" in response.content.decode()
    assert not Transfer.objects.exists()


def test_only_magenta_smooths_the_style():
    """Style pooling is Magenta's practice; AdaIN and Gatys see the painting's own textures."""
    from tfapp.pipeline import Options

    assert Options(method="magenta").resolved().style_pooling
    assert not Options(method="adain").resolved().style_pooling
    assert not Options(method="gatys", style_pooling=True).resolved().style_pooling
