"""The system checks that warn when the configured model cannot be found."""
import os
import subprocess
import sys

from django.conf import settings as django_settings
from django.core.checks import run_checks

from tfapp.checks import check_model
from tfapp.methods.magenta import LITE_FILES


def warnings_by_id():
    return {message.id: message for message in check_model(None)}


def test_unknown_engine_warns_with_a_hint_naming_the_setting(settings):
    """NST_ENGINE=gpu gives tfapp.W001, hinting at NST_ENGINE."""
    settings.NST_ENGINE = "gpu"
    warning = warnings_by_id()["tfapp.W001"]
    assert "'gpu'" in warning.msg and "NST_ENGINE" in warning.hint


def test_lite_engine_with_an_empty_folder_warns(settings, tmp_path):
    """NST_ENGINE=lite with an empty model folder gives tfapp.W002, hinting at NST_LITE_MODEL_DIR."""
    settings.NST_ENGINE = "lite"
    settings.NST_LITE_MODEL_DIR = tmp_path
    warning = warnings_by_id()["tfapp.W002"]
    assert all(name in warning.msg for name in LITE_FILES)
    assert "NST_LITE_MODEL_DIR" in warning.hint and "download_models" in warning.hint


def test_lite_warning_names_only_the_missing_file(settings, tmp_path):
    """With one of the two files present, the warning names the other one only."""
    settings.NST_ENGINE = "lite"
    settings.NST_LITE_MODEL_DIR = tmp_path
    (tmp_path / "style_predict_quantized_256.tflite").touch()
    message = warnings_by_id()["tfapp.W002"].msg
    assert "style_transfer_f16_384.tflite" in message
    assert "style_predict_quantized_256.tflite" not in message


def test_lite_engine_with_its_files_in_place_does_not_warn(settings, tmp_path):
    """NST_ENGINE=lite with both required files present gives no warning."""
    settings.NST_ENGINE = "lite"
    settings.NST_LITE_MODEL_DIR = tmp_path
    for name in LITE_FILES:
        (tmp_path / name).touch()
    assert check_model(None) == []


def test_hub_handle_naming_a_missing_folder_warns(settings, tmp_path):
    """A local NST_HUB_HANDLE that does not exist gives tfapp.W003, hinting at NST_HUB_HANDLE."""
    settings.NST_ENGINE = "hub"
    settings.NST_HUB_HANDLE = str(tmp_path / "missing")
    warning = warnings_by_id()["tfapp.W003"]
    assert "NST_HUB_HANDLE" in warning.hint


def test_hub_handle_naming_an_existing_folder_does_not_warn(settings, tmp_path):
    """A local NST_HUB_HANDLE folder that exists gives no warning."""
    settings.NST_ENGINE = "hub"
    settings.NST_HUB_HANDLE = str(tmp_path)
    assert check_model(None) == []


def test_hub_url_not_downloaded_yet_warns_with_the_offline_hint(settings):
    """A URL handle with nothing in the hub cache gives tfapp.W004, hinting at download_models and lite."""
    settings.NST_ENGINE = "hub"
    settings.NST_HUB_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
    warning = warnings_by_id()["tfapp.W004"]
    assert "download_models" in warning.hint
    assert "NST_ENGINE=lite" in warning.hint and "NST_LITE_MODEL_DIR" in warning.hint


def test_check_is_registered_with_django(settings):
    """`manage.py check` runs the model check."""
    settings.NST_ENGINE = "gpu"
    assert "tfapp.W001" in [message.id for message in run_checks()]


def test_checks_load_neither_tensorflow_nor_litert():
    """Running every system check in a fresh process imports no TensorFlow or LiteRT module."""
    script = (
        "import sys, django; django.setup(); "
        "from django.core.checks import run_checks; run_checks(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_hub', 'ai_edge_litert')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "nst_site.settings.test"},
        capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == "[]"


def test_missing_adain_graphs_and_vgg_weights_warn_per_method(settings, tmp_path):
    """Without AdaIN's graphs and the VGG-19 weights, check names each method, the file and the command."""
    from tfapp.checks import check_method_weights

    settings.NST_ADAIN_MODEL_DIR = tmp_path / "adain"
    settings.NST_VGG_WEIGHTS = tmp_path / "vgg.npz"
    found = {message.id: message for message in check_method_weights(None)}
    assert "adain method" in found["tfapp.W005"].msg and "--engine adain" in found["tfapp.W005"].hint
    assert "gatys method" in found["tfapp.W006"].msg and "--engine vgg" in found["tfapp.W006"].hint


def test_method_weights_present_give_no_warning():
    """With the shared weights configured, neither method warns."""
    from tfapp.checks import check_method_weights

    assert check_method_weights(None) == []
