"""Published style networks as methods: each declared from its folder's ``metadata.json``.

The engine that runs them is :mod:`tfapp.engines.trained`; training is ``manage.py train_style``.
"""
from .. import conf, runtime_choice
from ..exceptions import ModelUnavailable
from ..trained_styles import PAINTING_FILE, SAVED_MODEL_DIR, method_name, published_names, read_metadata
from .base import Capabilities, Method

#: Measured by bench/trained_styles.py on two CPU cores.
SECONDS_PER_PIXEL = 0.4e-6


class TrainedStyle(Method):
    """A published style network: one painting, any photo size, in one fast pass."""

    engine = "trained"
    implementation = "tfapp.engines.trained.TrainedMethod"
    queue = "default"
    capabilities = Capabilities(strength=False, blending=False, preserve_colours=True, style_scale=False,
                                style_input=False, regions=True)
    reasons = {
        "style_input": "A trained style paints only the painting it was trained on: no style image is needed.",
        "strength": "A trained network paints its one style at full strength; anything weaker would only be "
                    "the photo blended with the result pixel by pixel, which is not offered.",
        "blending": "A trained network knows only the painting it was trained on.",
        "style_scale": "The brush-stroke scale was fixed when the network was trained.",
    }

    #: The trained style's name (the folder it is published in).
    style_name = ""
    #: The painting it was trained on (a file in that folder), recorded as each transfer's style.
    painting = None

    @classmethod
    def check_available(cls):
        folder = conf.trained_model_dir() / cls.style_name / SAVED_MODEL_DIR
        if not folder.is_dir():
            raise ModelUnavailable(f"The trained style {cls.style_name!r} has no network in {folder}. Export it "
                                   f"again with `python manage.py train_style --name {cls.style_name} --export "
                                   "--force`.")
        runtime_choice.check_settings()

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        return SECONDS_PER_PIXEL * width * height


def declared(style_name):
    """The declaration of the published style ``style_name``, read from its ``metadata.json``. Raises ModelUnavailable."""
    folder = conf.trained_model_dir() / style_name
    if style_name not in published_names():
        raise ModelUnavailable(f"There is no trained style called {style_name!r} in {conf.trained_model_dir()}.")
    metadata = read_metadata(folder)
    painting = metadata.get("style", {}).get("source", "one painting")
    return type(f"TrainedStyle_{style_name}", (TrainedStyle,), {
        "style_name": style_name, "name": method_name(style_name), "label": f"Trained: {style_name}",
        "description": f"A network trained on {painting} for {metadata.get('steps', '?')} steps: fast at any size.",
        "painting": folder / PAINTING_FILE})
