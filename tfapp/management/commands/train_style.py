import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tfapp import presets
from tfapp.exceptions import InvalidImage, StyleTransferError
from tfapp.imaging import open_image
from tfapp.trained_styles import method_name, published_names
from tfapp.training_photos import PhotoFolder
from tfapp.training_runs import RunFolder, TrainingSettings

DEFAULTS = TrainingSettings(photos="")


class Command(BaseCommand):
    help = ("Train a fast style network for the painting STYLE on the photos in --photos, and publish it as the "
            "style trained:NAME. Ctrl-C or SIGTERM stops at a checkpoint; --resume continues.")

    def add_arguments(self, parser):
        parser.add_argument("style", nargs="?", help="The painting: an image path, or preset:NAME.")
        parser.add_argument("--photos", type=Path, help="Folder of training photos (searched recursively).")
        parser.add_argument("--name", required=True, help="Name of the trained style (lower-case, digits, - _).")
        for option, kind, text in (
                ("steps", int, "Training steps"), ("size", int, "Side of the square training crops, px"),
                ("batch", int, "Photos per step"), ("style-size", int, "Long side the painting is seen at, px"),
                ("style-weight", float, "Weight of the style loss"),
                ("content-weight", float, "Weight of the content loss"),
                ("tv-weight", float, "Weight of the total-variation (smoothness) loss"),
                ("learning-rate", float, "Adam's learning rate"),
                ("checkpoint-every", int, "Steps between checkpoints"), ("seed", int, "Random seed")):
            default = getattr(DEFAULTS, option.replace("-", "_"))
            parser.add_argument(f"--{option}", type=kind, help=f"{text} (default {default}).")
        parser.add_argument("--resume", action="store_true", help="Continue the run NAME from its last checkpoint.")
        parser.add_argument("--export", action="store_true", help="Publish the run's last checkpoint and stop.")
        parser.add_argument("--force", action="store_true",
                            help="Start a run or publish a style over an existing one of the same name.")

    def handle(self, *args, style, photos, name, resume, export, force, **options):
        try:
            run = RunFolder(name)
            if export:
                return self._publish(run, force)
            if resume:
                if style or photos:
                    raise CommandError("--resume goes on with the run's own painting and photos; leave them out.")
                _override_steps(run, options["steps"])
            else:
                self._start(run, style, photos, force, options)
            self._train(run, force or resume)
        except StyleTransferError as error:
            raise CommandError(str(error)) from error
        except OSError as error:
            # A full disk or a permission error while checkpointing: the previous checkpoint is still whole.
            raise CommandError(f"Could not write the run {name!r}: {error}. Its last checkpoint is intact; "
                               "fix the cause and continue with --resume.") from error

    def _start(self, run, style, photos, force, options):
        if not style or not photos:
            raise CommandError("Give the painting and --photos to start a run (or --resume to continue one).")
        if run.name in published_names() and not force:
            raise CommandError(f"A trained style called {run.name!r} exists already; choose another name or "
                               "use --force to replace it when the new one is done.")
        values = {key: value for key, value in options.items()
                  if value is not None and key in TrainingSettings.__dataclass_fields__}
        settings = TrainingSettings(photos=str(photos.resolve()), **values).check()
        painting, source = _painting(style, settings.style_size)
        folder = PhotoFolder(settings.photos, settings.batch)
        run.create(settings, painting, source, force=force)
        self.stdout.write(f"Training {method_name(run.name)} on {len(folder.training)} photos "
                          f"({folder.validation.name} held aside for validation, {len(folder.skipped)} file(s) "
                          f"skipped); run folder {run.path}.")

    def _train(self, run, force):
        # TensorFlow loads only here, so --help and refusals of bad input answer at once.
        from tfapp.engines.training import Trainer
        trainer = Trainer(run)
        self.stdout.write(f"Step {trainer.step} of {trainer.settings.steps} on the {trainer.device}.")
        with ProgressBar(trainer, self.stdout) as hooks:
            outcome = trainer.train(hooks)
        if outcome == "stopped":
            self.stdout.write(f"Stopped at step {trainer.step}; the checkpoint is saved. Continue with "
                              f"`python manage.py train_style --name {run.name} --resume`.")
            return
        self._publish(run, force)

    def _publish(self, run, force):
        from tfapp.engines.trained import publish_checkpoint
        folder = publish_checkpoint(run, force)
        self.stdout.write(f"Published {method_name(run.name)} in {folder}.")


def _override_steps(run, steps):
    """A resumed run keeps its settings, except that --steps may train it further."""
    settings = run.settings()
    if steps is not None:
        settings.steps = steps
        settings.check()
        run.save_settings(settings)


def _painting(style, style_size):
    """The painting as an image whose long side is ``style_size``, and where it came from."""
    try:
        preset = presets.named(style)
    except LookupError as error:
        raise CommandError(str(error)) from error
    if preset is not None:
        with preset.image.open("rb") as stored:
            image = open_image(stored)
        source = f"preset {preset.name}"
    else:
        try:
            image = open_image(Path(style))
        except InvalidImage as error:
            raise CommandError(f"The painting {style} is not an image that can be read: {error}") from error
        source = Path(style).name
    scale = style_size / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale)))), source


class ProgressBar:
    """A tqdm bar with each loss term, a line per checkpoint, and Ctrl-C/SIGTERM turned into a clean stop."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer, stdout):
        self._bar = tqdm(total=trainer.settings.steps, initial=trainer.step, unit="step", dynamic_ncols=True)
        self._stdout = stdout
        self._stop_requested = False
        self._previous = {}

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._request_stop) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._bar.close()

    def _request_stop(self, number, frame):
        self._stop_requested = True
        self._bar.write(f"{signal.Signals(number).name}: stopping after this step and writing a checkpoint.")

    def should_stop(self):
        return self._stop_requested

    def on_step(self, step, losses):
        self._bar.update(step - self._bar.n)
        self._bar.set_postfix({name: f"{value:.4g}" for name, value in losses.items()}, refresh=False)

    def on_checkpoint(self, step, losses, validation_image):
        terms = " ".join(f"{name} {value:.4g}" for name, value in losses.items())
        with tqdm.external_write_mode():
            self._stdout.write(f"checkpoint step {step}: {terms}; validation image {validation_image}")
