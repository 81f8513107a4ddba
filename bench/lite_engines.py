"""Why the lite engine rewrites the fp16 graph: it against the dynamic-range int8 file, both on LiteRT.

For several content sizes, prints the warm time of one transfer-network call with
(1) the fp16 file with its upsampling sizes rewritten for the content size (what
the engine does), and (2) the dynamic-range int8 file that accepts any size,
plus the output size each gives and the one-off cost of building the fp16
interpreter for a new size.

    python bench/lite_engines.py [--runs 5]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, LITE_DIR, STYLE, median_seconds, print_host  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from PIL import Image  # noqa: E402

from tfapp.engines.runtimes import LiteRtRuntime  # noqa: E402
from tfapp.engines.lite import LiteEngine  # noqa: E402
from tfapp.imaging import image2tensor, style2tensor  # noqa: E402

SIZES = [(384, 384), (512, 341), (512, 512), (768, 512), (1024, 683)]


def dynamic_runner(content, vector):
    interpreter = Interpreter(model_path=str(LITE_DIR / "style_transfer_quantized_dynamic.tflite"), num_threads=2)
    inputs = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    interpreter.resize_tensor_input(inputs["content_image"], list(content.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["content_image"], content)
    interpreter.set_tensor(inputs["mobilenet_conv/Conv/BiasAdd"], vector)
    output = interpreter.get_output_details()[0]["index"]
    return interpreter.invoke, lambda: interpreter.get_tensor(output).shape


def main():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print_host()
    engine = LiteEngine(LITE_DIR, LiteRtRuntime(2))
    vector = engine.style_vector(style2tensor(Image.open(STYLE / "starry_night.jpg"), 256))
    photo = Image.open(CONTENT / "astronaut.png")
    print(f"{'content WxH':>12} {'fp16 rewritten':>15} {'int8 dynamic':>13} {'int8 output':>12} {'new-size build':>15}")
    for width, height in SIZES:
        content = image2tensor(photo.resize((width, height)))
        started = time.perf_counter()
        engine.transfer(content, vector)
        first_call = time.perf_counter() - started
        fp16 = median_seconds(lambda: engine.transfer(content, vector), args.runs)
        invoke, output_shape = dynamic_runner(content, vector)
        int8 = median_seconds(invoke, args.runs)
        out_h, out_w = output_shape()[1:3]
        print(f"{width:>6}x{height:<5} {fp16:>13.3f} s {int8:>11.3f} s {out_w:>7}x{out_h:<4} {first_call - fp16:>13.3f} s")


if __name__ == "__main__":
    main()
