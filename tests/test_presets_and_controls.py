"""Creative controls through the site: presets, blending, strength, colours, sizes, re-run, CLI."""
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from tfapp.models import StylePreset, Transfer
from tfapp.processing import run_transfer

from .conftest import CONTENT_DIR, STYLE_DIR, make_image, shared_upload, upload
from .factories import make_transfer
from .test_hub_engine import hub_settings, saved_model_dir  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(client, django_capture_on_commit_callbacks):
    """Post the upload form like the browser, running the job it enqueues; returns the new transfer."""
    def post(data=None, content=None, style=None, path=None):
        fields = dict(data or {})
        if content is not False:
            fields["content_image"] = content or upload("photo.png", make_image((96, 64)))
        if style is not False:
            fields.setdefault("style_image", style or upload("style.png", make_image((64, 64))))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path or reverse("tfapp:upload"), fields)
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        return Transfer.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])
    return post


def _pixels(field):
    with field.open("rb") as stored:
        return np.asarray(Image.open(io.BytesIO(stored.read())).convert("RGB"), np.float64)


@pytest.fixture
def starry_night():
    call_command("load_presets", str(STYLE_DIR))
    return StylePreset.objects.get(name="The Starry Night")


def test_load_presets_adds_each_painting_with_details_and_a_stored_vector(starry_night):
    """The four shared paintings become presets with artist, year, licence, thumbnail and style vector."""
    assert StylePreset.objects.count() == 4
    assert (starry_night.artist, starry_night.year, starry_night.licence) == ("Vincent van Gogh", 1889, "Public domain")
    assert starry_night.thumbnail
    assert sorted(starry_night.style_vectors) == ["adain:256:sharp", "lite:256:pooled"]
    assert len(starry_night.style_vectors["lite:256:pooled"]) == 100
    assert len(starry_night.style_vectors["adain:256:sharp"]) == 1024


def test_loading_presets_again_updates_instead_of_duplicating(starry_night):
    """Running load_presets twice leaves one preset per painting."""
    call_command("load_presets", str(STYLE_DIR))
    assert StylePreset.objects.filter(name="The Starry Night").count() == 1


def test_load_presets_refuses_a_folder_without_images(tmp_path):
    """A folder with no images is a clear command error."""
    with pytest.raises(CommandError, match="has no images"):
        call_command("load_presets", str(tmp_path))


def test_upload_page_shows_presets(client, starry_night):
    """The upload page offers the presets by name."""
    page = client.get(reverse("tfapp:upload")).content.decode()
    assert "The Starry Night" in page and starry_night.thumbnail.url in page


def test_preset_transfer_uses_the_stored_vector(submit, settings, starry_night):
    """A preset transfer runs from the stored vector, not the image: it succeeds with its style image gone."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    transfer = submit({"style_preset": starry_night.pk}, content=shared_upload(CONTENT_DIR / "chelsea.png"),
                      style=False)
    style = transfer.first_style
    assert style.preset == starry_night
    style.image.storage.delete(style.image.name)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE, transfer.error_message


def test_preset_whose_image_is_missing_is_a_form_error(client, starry_night):
    """A preset whose file was removed from storage is refused with a reason, not a 500."""
    starry_night.image.storage.delete(starry_night.image.name)
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_preset": starry_night.pk})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors().as_data()[0].code == "missing_file"
    assert Transfer.objects.count() == 0


def test_preset_equals_uploading_the_same_painting(submit, starry_night):
    """The stored vector gives the same picture as uploading the painting itself."""
    from_preset = submit({"style_preset": starry_night.pk}, content=shared_upload(CONTENT_DIR / "chelsea.png"),
                         style=False)
    uploaded = submit(content=shared_upload(CONTENT_DIR / "chelsea.png"),
                      style=shared_upload(STYLE_DIR / "starry_night.jpg"))
    assert np.abs(_pixels(from_preset.result_image) - _pixels(uploaded.result_image)).max() <= 1


def test_blending_stores_each_style_with_its_weight(submit, starry_night):
    """An upload blended 70/30 with a preset keeps both styles and their weights, and differs from either."""
    blended = submit({"style_weight": 70, "style_preset_2": starry_night.pk, "style_weight_2": 30},
                     content=shared_upload(CONTENT_DIR / "coffee.png"), style=shared_upload(STYLE_DIR / "the_scream.jpg"))
    single = submit(content=shared_upload(CONTENT_DIR / "coffee.png"), style=shared_upload(STYLE_DIR / "the_scream.jpg"))
    assert [(s.weight, s.preset) for s in blended.styles.all()] == [(70.0, None), (30.0, starry_night)]
    assert np.abs(_pixels(blended.result_image) - _pixels(single.result_image)).mean() > 2


def test_all_zero_weights_are_refused(client):
    """Weights that are all zero are a form error, and nothing is stored."""
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload(),
                                                     "style_weight": 0})
    assert response.context["form"].non_field_errors().as_data()[0].code == "zero_weights"
    assert Transfer.objects.count() == 0


def test_strength_and_colours_are_stored_and_shown(client, submit):
    """Strength 40 % and kept colours are recorded on the transfer and shown on its page."""
    transfer = submit({"strength": 40, "preserve_colours": "on"})
    assert (transfer.strength, transfer.preserve_colours, transfer.status) == (40, True, Transfer.Status.DONE)
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert "40" in page and "Kept from the photo" in page


def test_output_size_sets_the_result_size(submit, settings):
    """Choosing 1024 px gives a 1024 px long side when the photo is larger."""
    settings.NST_MAX_OUTPUT_SIZE = 1024
    transfer = submit({"output_size": 1024}, content=upload("big.png", make_image((1600, 1200))))
    assert (transfer.result_width, transfer.result_height) == (1024, 768)


def test_output_size_above_the_site_maximum_is_refused(client, settings):
    """An output size over NST_MAX_OUTPUT_SIZE is not a valid choice."""
    settings.NST_MAX_OUTPUT_SIZE = 1024
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload(),
                                                     "output_size": 4096})
    assert response.context["form"].errors.as_data()["output_size"][0].code == "invalid_choice"


def test_result_page_shows_the_controls_and_a_rerun_link(client):
    """The result page lists strength, colours and style scale, and links to re-run with changes."""
    transfer = make_transfer(options=None)
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert f"?from={transfer.public_id}" in page
    assert "Strength" in page and "100" in page


def test_rerun_opens_the_form_with_the_same_parameters(client):
    """'Edit & re-run' fills in the earlier transfer's parameters and remembers its inputs."""
    from tfapp.pipeline import Options

    transfer = make_transfer(options=Options(strength=0.6, preserve_colours=True, style_size=384))
    form = client.get(reverse("tfapp:upload"), {"from": transfer.public_id}).context["form"]
    assert form["strength"].value() == 60
    assert form["preserve_colours"].value() is True
    assert form["style_size"].value() == 384
    assert str(form["source"].value()) == str(transfer.public_id)


def test_rerun_with_a_changed_strength_reuses_the_inputs(submit):
    """Re-running with only the strength changed stylizes the same photo and style again, differently."""
    first = submit(content=shared_upload(CONTENT_DIR / "chelsea.png"), style=shared_upload(STYLE_DIR / "the_scream.jpg"))
    again = submit({"source": first.public_id, "strength": 30, "style_weight": 100}, content=False, style=False)
    assert again.pk != first.pk and again.strength == 30
    assert np.array_equal(_pixels(again.content_image), _pixels(first.content_image))
    assert np.array_equal(_pixels(again.first_style.image), _pixels(first.first_style.image))
    assert (again.result_width, again.result_height) == (first.result_width, first.result_height)
    assert np.abs(_pixels(again.result_image) - _pixels(first.result_image)).mean() > 2


def test_an_uploaded_painting_is_encoded_once_and_kept_for_reruns(submit):
    """An AdaIN transfer keeps the uploaded painting's statistics on its style; a re-run copies them and uses them."""
    first = submit({"method": "adain"}, content=shared_upload(CONTENT_DIR / "chelsea.png"),
                   style=shared_upload(STYLE_DIR / "the_scream.jpg"))
    assert first.status == Transfer.Status.DONE, first.error_message
    assert len(first.first_style.style_vectors["adain:256:sharp"]) == 1024
    again = submit({"source": first.public_id, "method": "adain", "style_weight": 100}, content=False, style=False)
    assert again.first_style.style_vectors == first.first_style.style_vectors
    assert np.array_equal(_pixels(again.result_image), _pixels(first.result_image))
    # With its image gone, a third run still works: the painting is seen through its kept vector alone.
    third = submit({"source": again.public_id, "method": "adain", "style_weight": 100}, content=False, style=False)
    style = third.first_style
    third.status, third.result_image = Transfer.Status.QUEUED, ""
    third.save()
    style.image.storage.delete(style.image.name)
    run_transfer(third.pk)
    third.refresh_from_db()
    assert third.status == Transfer.Status.DONE, third.error_message


def test_rerun_of_a_deleted_transfer_is_a_form_error(client):
    """A re-run whose source was deleted says so instead of failing."""
    transfer = make_transfer(run=False)
    public_id = transfer.public_id
    transfer.delete()
    response = client.post(reverse("tfapp:upload"), {"source": public_id})
    assert response.context["form"].non_field_errors().as_data()[0].code == "no_source"


def test_cli_accepts_presets_weights_and_strength(tmp_path, starry_night):
    """stylize CONTENT STYLE preset:NAME --weights --strength --preserve-colours writes the image."""
    output = tmp_path / "out.png"
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "the_scream.jpg"),
                 "preset:the starry night", "--weights", "1,3", "--strength", "80", "--preserve-colours",
                 "-o", str(output))
    with Image.open(output) as result:
        assert result.size == (451, 300)


def test_cli_names_the_presets_when_one_is_unknown(tmp_path, starry_night):
    """An unknown preset name lists the ones that exist."""
    with pytest.raises(CommandError, match="The Starry Night"):
        call_command("stylize", str(CONTENT_DIR / "chelsea.png"), "preset:Mona Lisa", "-o", str(tmp_path / "o.png"))


def test_cli_refuses_a_wrong_number_of_weights(tmp_path):
    """--weights must give one number per style."""
    with pytest.raises(CommandError, match="2 numbers for 1 styles"):
        call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "the_scream.jpg"),
                     "--weights", "1,2", "-o", str(tmp_path / "o.png"))


def test_vectorless_engine_disables_strength_and_refuses_blending(client, hub_settings, saved_model_dir):
    """With the TF-Hub engine the strength slider is disabled with a reason, and blending is refused."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    page = client.get(reverse("tfapp:upload")).content.decode()
    assert "exposes no style vector" in page
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload(),
                                                     "style_image_2": upload("second.png")})
    assert response.context["form"].non_field_errors().as_data()[0].code == "blend_unsupported"


def test_single_style_transfer_still_works_with_the_vectorless_engine(submit, hub_settings, saved_model_dir):
    """The TF-Hub engine stylizes one uploaded style at full strength."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    transfer = submit()
    assert transfer.status == Transfer.Status.DONE, transfer.error_message
    assert transfer.engine == "hub"


def test_load_presets_without_a_model_says_the_vectors_come_later(settings, fresh_engine, tmp_path, capsys):
    """With the model unavailable, presets are still loaded and the command says why no vector is stored."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "none"
    settings.NST_ADAIN_MODEL_DIR = tmp_path / "none"
    call_command("load_presets", str(STYLE_DIR))
    assert StylePreset.objects.count() == 4
    assert all(not preset.style_vectors for preset in StylePreset.objects.all())
    assert "the model is unavailable" in capsys.readouterr().out


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_rerun_link_to_a_missing_transfer_opens_an_empty_form(client, bad_id):
    """A malformed or unknown ?from= opens the normal upload form, not an error page."""
    response = client.get(reverse("tfapp:upload"), {"from": bad_id})
    assert response.status_code == 200
    assert response.context["source"] is None
