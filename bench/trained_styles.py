"""Trained style networks on numbers: training speed, inference time beside Magenta's, and quality.

    python bench/trained_styles.py throughput [--size 256] [--batch 4] [--steps 5]
    python bench/trained_styles.py inference [--trained NAME] [--side 512] [--rounds 10] [--threads 2]
    python bench/trained_styles.py quality --trained NAME [--painting starry_night.jpg] [--side 512]

``throughput`` times training steps (after two warm-up steps that trace the graph) on
the shared photos and their mirror images (six, so a batch of four fits beside the
held-aside one). ``inference`` times the trained network run by TensorFlow (what
``NST_RUNTIME=litert`` gives) and by OpenVINO (the default where installed), and
Magenta's transfer network (TFLite, the style vector computed once), on the same
512 x 512 photo, in turns, in one process, with OpenVINO's speed-up over TensorFlow
and the load average; without ``--trained`` it times a freshly initialised network of
the same architecture (the weights do not change the time). ``quality`` measures each shared
photo stylized by the trained network and by Magenta for the same painting with the
methods benchmark's objective (``tfapp.engines.vgg.objective``: style loss on Gram
matrices at relu1_1..relu4_1 against the painting seen at 256 px, content loss at
relu4_1). ``--trained NAME`` reads ``NST_TRAINED_MODEL_DIR`` (default: the model
directory's ``trained/``).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, ROOT, STYLE, print_host  # noqa: E402

STYLE_SIZE = 256


def setup_django(**environment):
    os.environ.update(MODEL_ENV)
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def throughput(args):
    workdir = Path(tempfile.mkdtemp(prefix="train-bench-"))
    setup_django(NST_MODEL_DIR=str(workdir / "models"))
    from PIL import Image, ImageOps

    from tfapp.engines.training import Hooks, Trainer
    from tfapp.training_runs import RunFolder, TrainingSettings

    photos = workdir / "photos"
    photos.mkdir()
    for path in sorted(CONTENT.glob("*.png")):
        image = Image.open(path).convert("RGB")
        image.save(photos / path.name)
        ImageOps.mirror(image).save(photos / f"mirrored-{path.name}")

    class Clock(Hooks):
        times = []

        def on_step(self, step, losses):
            self.times.append(time.perf_counter())

    warm_up = 2
    settings = TrainingSettings(str(photos), steps=warm_up + args.steps, size=args.size, batch=args.batch,
                                checkpoint_every=10 ** 6)
    run = RunFolder("bench")
    run.create(settings, Image.open(STYLE / "starry_night.jpg").convert("RGB").resize((256, 203)))
    trainer = Trainer(run)
    trainer.train(Clock())
    seconds = Clock.times[-1] - Clock.times[warm_up - 1]
    print(f"training on the {trainer.device}: {args.size} px crops, batch {args.batch}: "
          f"{args.steps / seconds:.3f} steps/s ({seconds / args.steps:.2f} s a step, {args.steps} steps timed "
          f"after {warm_up} warm-up steps)")


def inference(args):
    workdir = Path(tempfile.mkdtemp(prefix="trained-bench-"))
    environment = {} if args.trained else {"NST_TRAINED_MODEL_DIR": str(workdir)}
    setup_django(**environment)
    from tfapp import engines
    from tfapp.engines import runtimes
    from tfapp.imaging import image2tensor, open_image, style2tensor
    from tfapp.methods.magenta import Lite

    name = args.trained or _publish_untrained()
    method_class = engines.method_class(f"trained:{name}").engine_class()
    on_tensorflow, on_openvino = (method_class(runtimes.choose(setting, "f32", args.threads))
                                  for setting in ("litert", "openvino"))
    magenta = Lite.engine_class()()
    photo = open_image(CONTENT / "astronaut.png").resize((args.side, args.side))
    content = image2tensor(photo)
    vector = magenta.style_vector(style2tensor(open_image(STYLE / "starry_night.jpg"), STYLE_SIZE))
    runs = {on_tensorflow.label: lambda: on_tensorflow.stylize(content),
            on_openvino.label: lambda: on_openvino.stylize(content),
            magenta.label: lambda: magenta.transfer(content, vector)}
    times = {label: [] for label in runs}
    difference = abs(runs[on_openvino.label]() - runs[on_tensorflow.label]()).max()  # also builds each for this size
    runs[magenta.label]()
    print(f"inference at {args.side}x{args.side}, {args.rounds} rounds in turns, {args.threads} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}:")
    for _ in range(args.rounds):
        for label, run in runs.items():
            started = time.perf_counter()
            output = run()
            times[label].append(time.perf_counter() - started)
            assert output.shape == content.shape
    for label, seconds in times.items():
        print(f"  {label:50s} median {statistics.median(seconds):.3f} s (min {min(seconds):.3f}, "
              f"max {max(seconds):.3f})")
    speed_up = statistics.median(times[on_tensorflow.label]) / statistics.median(times[on_openvino.label])
    print(f"  OpenVINO over TensorFlow: {speed_up:.2f}x (medians); largest difference per colour value "
          f"{difference:.1e}; load average after {os.getloadavg()[0]:.2f}")


def _publish_untrained():
    from tfapp.engines.style_network import StyleNetwork
    from tfapp.engines.trained import publish
    publish(StyleNetwork(), "untrained", {"name": "untrained", "steps": 0},
            (STYLE / "starry_night.jpg").read_bytes())
    return "untrained"


def quality(args):
    setup_django()
    import tensorflow as tf

    from tfapp import engines, pipeline
    from tfapp.engines import vgg
    from tfapp.imaging import image2tensor, open_image, style2tensor
    from tfapp.methods.magenta import Lite
    from tfapp.training_photos import PhotoFolder

    method = f"trained:{args.trained}"
    trained = engines.get(method)
    magenta = Lite.engine_class()()
    painting = open_image(STYLE / args.painting)
    style = tf.constant(style2tensor(painting, STYLE_SIZE, pooling=False))
    network = vgg.shared_vgg()
    settings = trained.metadata["settings"]
    held_aside = PhotoFolder(settings["photos"], settings["batch"]).validation.name
    print(f"{method}: {trained.metadata['steps']} steps, settings {settings}")
    print(f"objective at {args.side} px (style loss, content loss; lower is closer), painting {args.painting}:")
    for photo in sorted(CONTENT.glob("*.png")):
        image = open_image(photo)
        content = tf.constant(image2tensor(image, args.side))
        results = {}
        for label, chosen, name in (("trained", trained, method), ("magenta", magenta, "magenta")):
            options = pipeline.Options(method=name, max_size=args.side, style_size=STYLE_SIZE)
            stylized = pipeline.stylize(image, [(painting, 1.0)], options, chosen)
            results[label] = vgg.objective(network, tf.constant(image2tensor(stylized.image)), content,
                                           [(style, 1.0)])
        role = "held aside" if photo.name == held_aside else "trained on"
        print(f"  {photo.name:14s} ({role:10s}) trained {_pair(results['trained'])}   "
              f"magenta {_pair(results['magenta'])}")


def _pair(losses):
    return f"style {losses[0]:7.3f} content {losses[1]:6.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("throughput")
    train.add_argument("--size", type=int, default=256)
    train.add_argument("--batch", type=int, default=4)
    train.add_argument("--steps", type=int, default=5)
    infer = commands.add_parser("inference")
    infer.add_argument("--trained")
    infer.add_argument("--side", type=int, default=512)
    infer.add_argument("--rounds", type=int, default=10)
    infer.add_argument("--threads", type=int, default=os.cpu_count())
    measure = commands.add_parser("quality")
    measure.add_argument("--trained", required=True)
    measure.add_argument("--painting", default="starry_night.jpg")
    measure.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    print_host()
    {"throughput": throughput, "inference": inference, "quality": quality}[args.command](args)


if __name__ == "__main__":
    main()
