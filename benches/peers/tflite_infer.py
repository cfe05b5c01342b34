"""Times TFLite's int8 interpreter on the same CNN, one image at a time, one thread.

The peer that picocnn's `classify` is compared with. The Keras model (loaded with
--model, or trained here for --train-epochs on the same IDX files) is converted to a
full-integer TFLite model: int8 weights and activations, int8 input and output, calibrated
on training images. It is then timed with LiteRT's interpreter twice:

  tflite-xnnpack  the default configuration (the XNNPACK delegate takes the graph)
  tflite-builtin  builtin kernels only (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)

Each timed call is set_tensor + invoke on one image (cycling through the test set), so the
figure includes Python's call overhead; that floor is measured on a one-op model and
reported as `overhead_us`. Output is JSON lines on stdout:

  {"event": "model", "variant": "B", "tflite_bytes": ..., "f32_accuracy": ..., "int8_accuracy": ...}
  {"event": "timing", "variant": "B", "engine": "tflite-xnnpack", "us_per_image": <median>, ...}
"""

import contextlib
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.dont_write_bytecode = True  # keep the repository free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idx  # noqa: E402


def parse_args():
    p = idx.arg_parser(__doc__)
    p.add_argument("--model", metavar="PATH", help="trained .keras model (from keras_train.py --save)")
    p.add_argument("--train-epochs", type=int, default=1, help="epochs to train when --model is absent (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calibration", type=int, default=1000, help="training images for calibration (default 1000)")
    p.add_argument("--runs", type=int, default=5000, help="timed single-image invokes per engine (default 5000)")
    p.add_argument("--warmup", type=int, default=500, help="untimed invokes first (default 500)")
    p.add_argument("--save-tflite", metavar="PATH", help="keep the converted .tflite file")
    p.add_argument(
        "--tflite",
        metavar="PATH",
        help="time this converted model (from --save-tflite) and nothing else: no TensorFlow, no accuracy",
    )
    return p.parse_args()


def emit(record):
    print(json.dumps(record), flush=True)


def convert_int8(tf, model, calibration_images):
    """Full-integer post-training quantization, int8 in and out."""

    def representative():
        for image in calibration_images:
            yield [image[None, ...]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # The converter prints its SavedModel summary on stdout; keep stdout for JSON lines.
    with contextlib.redirect_stdout(sys.stderr):
        return converter.convert()


def interpreter(litert, content, builtin_only, batch=1):
    kwargs = {"model_content": content, "num_threads": 1}
    if builtin_only:
        kwargs["experimental_op_resolver_type"] = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = litert.Interpreter(**kwargs)
    if batch != 1:
        interp.resize_tensor_input(interp.get_input_details()[0]["index"], [batch, 28, 28, 1])
    interp.allocate_tensors()
    return interp


def quantize_input(np, interp, images_f32):
    scale, zero_point = interp.get_input_details()[0]["quantization"]
    q = np.round(images_f32 / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def int8_accuracy(np, litert, content, builtin_only, images_f32, labels, batch=500):
    interp = interpreter(litert, content, builtin_only, batch)
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    q = quantize_input(np, interp, images_f32)
    correct = 0
    for start in range(0, len(q) - len(q) % batch, batch):
        interp.set_tensor(inp, q[start : start + batch])
        interp.invoke()
        correct += int((interp.get_tensor(out).argmax(axis=1) == labels[start : start + batch]).sum())
    return correct / (len(q) - len(q) % batch)


def time_single(np, interp, inputs, runs, warmup):
    """Median and spread of set_tensor + invoke on one image, in microseconds."""
    index = interp.get_input_details()[0]["index"]
    n = len(inputs)
    for i in range(warmup):
        interp.set_tensor(index, inputs[i % n])
        interp.invoke()
    samples = np.empty(runs)
    clock = time.perf_counter_ns
    for i in range(runs):
        image = inputs[i % n]
        start = clock()
        interp.set_tensor(index, image)
        interp.invoke()
        samples[i] = clock() - start
    samples /= 1000.0
    return {
        "us_per_image": round(float(np.median(samples)), 2),
        # Criterion's figure is closer to a mean: preempted calls count in it.
        "mean_us": round(float(samples.mean()), 2),
        "p10_us": round(float(np.percentile(samples, 10)), 2),
        "p90_us": round(float(np.percentile(samples, 90)), 2),
        "min_us": round(float(samples.min()), 2),
        "runs": runs,
    }


def call_overhead(tf, np, litert, runs, warmup):
    """The same timed loop on a one-op int8 model with the same input: Python's floor."""
    keras = tf.keras
    tiny = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.ReLU()])
    content = convert_int8(tf, tiny, [np.full((28, 28, 1), v, np.float32) for v in (0.0, 1.0)])
    interp = interpreter(litert, content, builtin_only=True)
    inputs = np.zeros((16, 1, 28, 28, 1), np.int8)
    return time_single(np, interp, inputs, runs, warmup)["us_per_image"]


def time_engines(np, litert, content, variant, test_f32, args, overhead):
    for engine, builtin_only in (("tflite-xnnpack", False), ("tflite-builtin", True)):
        interp = interpreter(litert, content, builtin_only)
        inputs = quantize_input(np, interp, test_f32[:1000])[:, None, ...]
        stats = time_single(np, interp, inputs, args.runs, args.warmup)
        emit({"event": "timing", "variant": variant, "engine": engine, "threads": 1, **stats, "overhead_us": overhead})


def main():
    args = parse_args()
    (train_x, train_y), (test_x, test_y) = idx.load(args.data, args.dataset)

    import numpy as np
    from ai_edge_litert import interpreter as litert

    variant = "B" if args.pooling else "A"
    xt = (test_x.astype("float32") / 255.0)[..., None]

    if args.tflite:
        with open(args.tflite, "rb") as f:
            content = f.read()
        # Variant B is the one with a pooled 13x13x32 tensor.
        shapes = {tuple(t["shape"]) for t in interpreter(litert, content, True).get_tensor_details()}
        if ((1, 13, 13, 32) in shapes) != args.pooling:
            idx.fail(f"{args.tflite}: not a variant {variant} model")
        time_engines(np, litert, content, variant, xt, args, None)
        return

    import tensorflow as tf

    x = (train_x.astype("float32") / 255.0)[..., None]
    yt = test_y.astype("int64")

    if args.model:
        model = tf.keras.models.load_model(args.model)
        source = args.model
    else:
        import keras_train

        tf.keras.utils.set_random_seed(args.seed)
        model = keras_train.build_model(tf.keras, args.pooling)
        model.fit(x, train_y.astype("int32"), epochs=args.train_epochs, batch_size=32, validation_split=0.1, verbose=0)
        source = f"trained here, {args.train_epochs} epoch(s)"
    pooled = any(isinstance(layer, tf.keras.layers.MaxPooling2D) for layer in model.layers)
    if pooled != args.pooling:
        idx.fail(f"{source}: model {'has' if pooled else 'has no'} pooling layer, but variant {variant} was asked for")

    # Calibrate on a seeded sample of the training images (not the validation tail).
    rng = np.random.default_rng(args.seed)
    calibration = x[rng.choice(int(len(x) * 0.9), size=args.calibration, replace=False)]
    content = convert_int8(tf, model, calibration)
    if args.save_tflite:
        tmp = args.save_tflite + ".partial"
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, args.save_tflite)

    f32 = float((model.predict(xt, batch_size=500, verbose=0).argmax(axis=1) == yt).mean())
    acc_xnn = int8_accuracy(np, litert, content, False, xt, yt)
    acc_builtin = int8_accuracy(np, litert, content, True, xt, yt)
    emit(
        {
            "event": "model",
            "peer": "tflite",
            "variant": variant,
            "dataset": args.dataset,
            "source": source,
            "tflite_bytes": len(content),
            "calibration_images": args.calibration,
            "f32_accuracy": f32,
            "int8_accuracy": acc_xnn,
            "int8_accuracy_builtin": acc_builtin,
            "drop_pp": round(100.0 * (f32 - acc_xnn), 2),
        }
    )

    overhead = call_overhead(tf, np, litert, args.runs, args.warmup)
    time_engines(np, litert, content, variant, xt, args, overhead)


if __name__ == "__main__":
    main()
