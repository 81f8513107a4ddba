"""AdaIN: the frozen graphs as shipped, and their weights dequantized once on TensorFlow and on OpenVINO.

1. In this process, for a 512x512 and a 512x341 photo and a 256 px painting, one
   transfer (encode the photo and the painting, AdaIN, decode) three ways, taking
   turns: the frozen graphs as shipped (their ``Dequantize`` ops run on every call),
   and ``AdainMethod`` (the same weights dequantized once at load) run by TensorFlow
   (what ``NST_RUNTIME=litert`` gives) and by OpenVINO (the default where installed),
   with the speed-up of OpenVINO over TensorFlow; OpenVINO in f32 also with every
   convolution direct ("OpenVINO direct"), against the default's Winograd convolutions
   (``tfapp/engines/winograd.py``), with that speed-up and difference; on a CPU with
   native bfloat16 also OpenVINO in bf16 (the default there, ``NST_PRECISION=auto``),
   with its difference from f32. Each runtime is timed with the painting as an image and as its stored
   style vector (what a preset, a retry or a re-run uses). Also the parts on each
   runtime: encoding the photo, encoding the painting, decoding; and OpenVINO's own
   per-layer profile of the decoder, summed by kind of layer, one thread.
2. For 512, 1024 and 2048 px, a fresh process per runtime runs ``AdainMethod.stylize``
   in one piece (and at 2048 also in 1024 px tiles) and reports its time and its
   peak resident memory, so one size's memory never counts towards another's.

Each section prints the load average; on a machine other processes use, wall-clock
times are theirs too, so read the ratios of times taken in turns.

    python bench/adain.py [--runs 5] [--threads 2] [--skip-memory]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, SHARED, STYLE, print_host, summary  # noqa: E402

ADAIN_DIR = SHARED / "models" / "adain-vgg19"
PHOTO = CONTENT / "astronaut.png"
PAINTING = STYLE / "starry_night.jpg"
MEMORY_RUNS = ((512, None), (1024, None), (2048, None), (2048, 1024))
#: The runtime, precision and Winograd choice (None: the default) each ``AdainMethod`` runs with, by label.
RUNTIMES = {"TensorFlow": ("litert", "f32", None), "OpenVINO": ("openvino", "f32", None),
            "OpenVINO direct": ("openvino", "f32", False)}


def setup_django(threads):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    os.environ.setdefault("NST_ADAIN_MODEL_DIR", str(ADAIN_DIR))
    os.environ["NST_ENGINE_THREADS"] = str(threads)
    django.setup()


def images(size):
    """The photo resized to exactly ``size`` (width, height) and the painting at 256 px."""
    from PIL import Image

    from tfapp.imaging import image2tensor, open_image, style2tensor

    photo = open_image(PHOTO).resize(size, Image.Resampling.LANCZOS)
    return image2tensor(photo), style2tensor(open_image(PAINTING), 256, pooling=False)


class GraphTransfer:
    """The shipped graphs: encoder, and decoder fed after its baked-in AdaIN (so strength works the same)."""

    def __init__(self):
        import tensorflow as tf

        self.tf = tf
        self.encode = self._load("encoder_opt_quantized.pb").prune("input:0", "output/Relu:0")
        self.decode = self._load("decoder_opt_quantized.pb").prune("ada_in/add:0", "output/mul:0")

    def _load(self, name):
        graph_def = self.tf.compat.v1.GraphDef()
        graph_def.ParseFromString((ADAIN_DIR / name).read_bytes())
        return self.tf.compat.v1.wrap_function(lambda: self.tf.compat.v1.import_graph_def(graph_def, name=""), [])

    def __call__(self, content, style, epsilon=1e-5):
        from tfapp.engines.adain import adain, statistics

        content_features = self.encode(self.tf.constant(content * 255.0))
        style_mean, style_std = statistics(self.encode(self.tf.constant(style * 255.0)))
        aligned = adain(content_features, *statistics(content_features, epsilon), style_mean, style_std)
        return self.tf.clip_by_value(self.decode(aligned), 0.0, 255.0).numpy() / 255.0


def timed(function, *args):
    """Wall-clock seconds of one call."""
    return timed_with_cpu(function, *args)[0]


def timed_with_cpu(function, *args):
    """Wall-clock and CPU seconds (all of this process's threads) of one call.

    On a machine other processes are busy on, the wall clock mostly measures them;
    the CPU seconds are the work this call did, which they change far less.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - started, time.process_time() - started_cpu


def print_times(label, measured):
    wall, cpu = zip(*measured)
    print(f"  {label:29} {summary(wall)}; CPU {summary(cpu)}")


def runtimes_here():
    """RUNTIMES, plus OpenVINO in bf16 where this CPU has it natively."""
    from tfapp.engines import runtimes

    if runtimes.native_bf16():
        return {**RUNTIMES, "OpenVINO bf16": ("openvino", "bf16", None)}
    print("OpenVINO bf16: not measured, this CPU has no native bfloat16 arithmetic.")
    return RUNTIMES


def adain_on(runtime_setting, precision, winograd, threads):
    from tfapp.engines import runtimes
    from tfapp.engines.adain import AdainMethod

    return AdainMethod(runtime=runtimes.choose(runtime_setting, precision, threads), winograd=winograd)


def compare(runs, threads):
    import numpy as np

    from tfapp.engines.adain import _padded

    methods = {label: adain_on(*setting, threads) for label, setting in runtimes_here().items()}
    graph = GraphTransfer()
    for size in ((512, 512), (512, 341)):
        print(f"load average {os.getloadavg()[0]:.2f}")
        content, style = images(size)
        # The graphs need sides the decoder returns whole; 341 rows are padded to 344 for all.
        padded = _padded(content)
        graph_result = graph(padded, style)
        results = {label: method.stylize(padded, [(style, 1.0)]) for label, method in methods.items()}
        print(f"{size[0]}x{size[1]}: max difference from the graphs: " + ", ".join(
            f"{label} {np.abs(result - graph_result).max():.2e}" for label, result in results.items()) +
            f"; OpenVINO from TensorFlow {np.abs(results['OpenVINO'] - results['TensorFlow']).max():.2e}"
            f"; Winograd from direct {np.abs(results['OpenVINO'] - results['OpenVINO direct']).max():.2e}")
        if "OpenVINO bf16" in results:
            levels = np.abs(results["OpenVINO bf16"] - results["OpenVINO"]) * 255
            print(f"  bf16 from f32: max {levels.max():.1f}, mean {levels.mean():.2f} levels of 255")
        vectors = {label: method.style_vector(style) for label, method in methods.items()}
        times = {"graph as shipped": [], **{label: [] for label in methods},
                 **{f"{label}, stored vector": [] for label in methods}}
        for _ in range(runs):
            times["graph as shipped"].append(timed_with_cpu(graph, padded, style))
            for label, method in methods.items():
                times[label].append(timed_with_cpu(method.stylize, content, [(style, 1.0)]))
                times[f"{label}, stored vector"].append(timed_with_cpu(method.stylize, content,
                                                                       [(vectors[label], 1.0)]))
        for label, measured in times.items():
            print_times(label, measured)
        print_speed_up(times)
        parts(methods, content, style, runs)
    decoder_profile(methods, content)


def decoder_profile(methods, content):
    """OpenVINO's per-layer times of one decode at the content's size, summed by kind of layer, on one thread."""
    import collections

    from tfapp.engines import runtimes
    from tfapp.engines.adain import _padded

    for label, method in methods.items():
        if not label.startswith("OpenVINO"):
            continue
        features = method._encode(_padded(content))
        compiled = runtimes._openvino_core().compile_model(method._decode._model, "CPU", {
            "INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": method._decode._runtime.precision,
            "PERF_COUNT": True})
        request = compiled.create_infer_request()
        for _ in range(3):
            request.infer({0: features})
        by_kind = collections.Counter()
        for layer in request.profiling_info:
            by_kind[layer.node_type] += layer.real_time.total_seconds()
        total = sum(by_kind.values())
        print(f"  decoder profile, {label}, one thread ({total:.3f} s): " + ", ".join(
            f"{kind} {seconds / total:.0%}" for kind, seconds in by_kind.most_common() if seconds / total >= 0.005))


def print_speed_up(times):
    """OpenVINO's speed-up over TensorFlow, and Winograd's over direct convolutions: ratios of median seconds."""
    for slower, faster, what in (("TensorFlow", "OpenVINO", "OpenVINO over TensorFlow"),
                                 ("OpenVINO direct", "OpenVINO", "Winograd over direct, OpenVINO f32")):
        (slow_wall, slow_cpu), (fast_wall, fast_cpu) = ([statistics.median(column) for column in zip(*times[label])]
                                                        for label in (slower, faster))
        print(f"  {'speed-up':29} {slow_wall / fast_wall:.2f}x wall, {slow_cpu / fast_cpu:.2f}x CPU ({what}, medians)")


def parts(methods, content, style, runs):
    from tfapp.engines.adain import _padded

    pieces = {}
    for label, method in methods.items():
        features = method._encode(_padded(content))
        pieces[label] = {"encode photo": lambda method=method: method._encode(_padded(content)),
                         "encode painting": lambda method=method: method._encode(_padded(style, multiple=1)),
                         "decode": lambda method=method, features=features: method._decode(features)}
    for part in ("encode photo", "encode painting", "decode"):
        times = {label: [] for label in methods}
        for _ in range(runs):
            for label in methods:
                times[label].append(timed_with_cpu(pieces[label][part]))
        for label, measured in times.items():
            print_times(f"  {part}, {label}", measured)
        print_speed_up(times)


def peak_resident_bytes():
    """This process's own peak resident memory (VmHWM; ru_maxrss would carry a forked parent's)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def one_size(long_side, tile_size, runtime_setting, precision, winograd, threads):
    """In a fresh process: one square transfer of ``long_side`` px; prints a JSON line."""
    content, style = images((long_side, long_side))
    method = adain_on(runtime_setting, precision, winograd, threads)
    method.stylize(content[:, :64, :64], [(style, 1.0)])
    loaded = peak_resident_bytes()
    seconds = timed(method.stylize, content, [(style, 1.0)], 1.0, None, tile_size or long_side)
    print(json.dumps({"seconds": seconds, "peak": peak_resident_bytes(), "loaded": loaded}))


def memory(threads):
    for long_side, tile_size in MEMORY_RUNS:
        print(f"load average {os.getloadavg()[0]:.2f}")
        for label, (setting, precision, winograd) in runtimes_here().items():
            command = [sys.executable, __file__, "--threads", str(threads), "--one-size", str(long_side),
                       "--runtime", setting, "--precision", precision, "--winograd", str(winograd)]
            if tile_size:
                command += ["--tile-size", str(tile_size)]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            figures = json.loads(output.splitlines()[-1])
            size = f"{long_side}x{long_side}" + (f" in {tile_size} px tiles" if tile_size else " in one piece")
            print(f"{size:27} {label:15} {figures['seconds']:.2f} s, peak {figures['peak'] / 2**30:.2f} GiB "
                  f"(model loaded and warm: {figures['loaded'] / 2**30:.2f} GiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tile-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runtime", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--winograd", choices=["None", "True", "False"], help=argparse.SUPPRESS)
    parser.add_argument("--skip-memory", action="store_true", help="Only the timing comparison.")
    options = parser.parse_args()
    print_host()
    setup_django(options.threads)
    if options.one_size:
        winograd = {"None": None, "True": True, "False": False}[options.winograd]
        return one_size(options.one_size, options.tile_size, options.runtime, options.precision, winograd,
                        options.threads)
    print(f"{options.threads} threads, {os.cpu_count()} cores")
    compare(options.runs, options.threads)
    if not options.skip_memory:
        memory(options.threads)


if __name__ == "__main__":
    main()
