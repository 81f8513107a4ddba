"""Published trained styles as methods: on the upload page, on the command line and through a real worker."""
import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from tfapp import conf, engines
from tfapp.models import Transfer

from .conftest import CONTENT_DIR, make_image, upload, wait_for
from .test_training import publish_untrained

pytestmark = [pytest.mark.model, pytest.mark.django_db]


@pytest.fixture
def trained(fresh_engine):
    """A published trained style called "scream"."""
    publish_untrained("scream", steps=3)
    return "trained:scream"


def test_a_published_style_is_a_method_with_its_declarations(trained):
    """trained:NAME is listed after the built-in methods, fast, without strength, blending or style scale."""
    assert engines.names()[-1] == trained
    declared = engines.method_class(trained)
    assert (declared.label, declared.queue, declared.engine) == ("Trained: scream", "default", "trained")
    assert not (declared.capabilities.strength or declared.capabilities.blending or declared.capabilities.style_scale)
    assert declared.capabilities.preserve_colours and set(declared.reasons) >= {"strength", "blending"}


def test_the_upload_page_offers_the_trained_style(client, trained):
    """The method choice on the upload page lists "Trained: scream"."""
    response = client.get(reverse("tfapp:upload"))
    assert response.status_code == 200
    assert f'value="{trained}"' in response.content.decode() and "Trained: scream" in response.content.decode()


def test_stylize_command_takes_a_trained_style(trained, tmp_path):
    """`stylize photo.png trained:scream -o out.png` writes a result the size of the photo."""
    output = tmp_path / "out.png"
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), trained, "-o", str(output), "--preserve-colours")
    with Image.open(output) as result:
        assert result.size == (451, 300)


def test_stylize_command_names_an_unknown_trained_style(trained, tmp_path):
    """A trained style that was never published is a readable error."""
    with pytest.raises(CommandError, match="no trained style called 'cubism'"):
        call_command("stylize", str(CONTENT_DIR / "chelsea.png"), "trained:cubism", "-o", str(tmp_path / "o.png"))


def test_the_form_records_the_painting_and_refuses_another_style(client, trained, django_capture_on_commit_callbacks):
    """A transfer with a trained style keeps its painting as its style; choosing another style is refused."""
    refused = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload("s.png"),
                                                    "method": trained})
    assert refused.status_code == 200 and "fixed_style" in [
        error.code for errors in refused.context["form"].errors.as_data().values() for error in errors]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tfapp:upload"), {"content_image": upload(image=make_image((333, 517))),
                                                         "method": trained, "output_size": 768})
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert (transfer.method, transfer.engine, transfer.status) == (trained, "trained", Transfer.Status.DONE)
    assert (transfer.result_width, transfer.result_height) == (333, 517)
    assert transfer.styles.count() == 1


def test_a_style_exported_again_is_loaded_again(trained):
    """After `train_style --export --force`, the next job runs the new network, not the one loaded before."""
    photo = np.random.default_rng(0).random((1, 48, 64, 3), np.float32)
    before = engines.get(trained)
    first = before.stylize(photo)
    assert engines.get(trained) is before
    publish_untrained("scream", steps=4)  # other weights
    after = engines.get(trained)
    assert after is not before
    assert np.abs(after.stylize(photo) - first).max() > 0.01
    assert np.array_equal(after.stylize(photo), engines.get(trained).stylize(photo))


def test_a_removed_style_is_unavailable(trained):
    """Deleting a published style's folder makes it unavailable with a reason, without restarting."""
    assert engines.unavailable_reason(trained) is None
    shutil.rmtree(conf.trained_model_dir() / "scream")
    assert "no trained style called 'scream'" in engines.unavailable_reason(trained)


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_a_transfer_with_a_trained_style_finishes_through_a_real_worker(client, workers, settings, trained):
    """A worker process (told the trained-models folder) runs the transfer to a result of the photo's size."""
    workers(NST_TRAINED_MODEL_DIR=settings.NST_TRAINED_MODEL_DIR)
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(image=make_image((320, 200))),
                                                     "method": trained})
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.DONE, timeout=120)
    transfer.refresh_from_db()
    assert (transfer.engine, transfer.result_width, transfer.result_height) == ("trained", 320, 200)
