"""Trains the classic Keras exercise CNN on the same IDX files the trainer reads.

This is the peer that picocnn's trainer is compared with: same layers, Adam 1e-3, sparse
categorical cross-entropy, batch 32, validation_split 0.1 (the last 10 % of the training
set), images scaled to [0, 1]. Output is JSON lines on stdout, one per epoch and one for the
test set, so scripts can read them:

  {"event": "epoch", "epoch": 1, "train_seconds": ..., "seconds": ..., ...}
  {"event": "test", "accuracy": ...}

`train_seconds` is the wall time of the epoch's training pass alone (what the trainer's
history calls `seconds`); `seconds` adds Keras's validation pass (what Keras prints).
The first epoch also pays for tracing the training function (about a second).
"""

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
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="TF intra- and inter-op threads (default 2)")
    p.add_argument("--save", metavar="PATH", help="save the trained model (.keras) for tflite_infer.py")
    return p.parse_args()


def build_model(keras, pooling):
    layers = [
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
    ]
    if pooling:
        layers.append(keras.layers.MaxPooling2D(2))
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def emit(record):
    print(json.dumps(record), flush=True)


def main():
    args = parse_args()
    (train_x, train_y), (test_x, test_y) = idx.load(args.data, args.dataset)

    import tensorflow as tf

    # Thread pools must be fixed before TF runs its first op.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras = tf.keras
    keras.utils.set_random_seed(args.seed)

    x = (train_x.astype("float32") / 255.0)[..., None]
    xt = (test_x.astype("float32") / 255.0)[..., None]
    y = train_y.astype("int32")
    yt = test_y.astype("int32")

    model = build_model(keras, args.pooling)
    variant = "B" if args.pooling else "A"
    emit(
        {
            "event": "config",
            "peer": "keras",
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "variant": variant,
            "dataset": args.dataset,
            "epochs": args.epochs,
            "batch": args.batch,
            "seed": args.seed,
            "threads": args.threads,
            "params": int(model.count_params()),
        }
    )

    class EpochTimer(keras.callbacks.Callback):
        """Times each epoch's training pass and the whole epoch, and emits one line per epoch."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.train_end = None

        def on_test_begin(self, logs=None):
            # During fit this marks the start of the validation pass.
            if self.train_end is None:
                self.train_end = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            end = time.perf_counter()
            logs = logs or {}
            emit(
                {
                    "event": "epoch",
                    "epoch": epoch + 1,
                    "train_seconds": round((self.train_end or end) - self.start, 3),
                    "seconds": round(end - self.start, 3),
                    "train_loss": float(logs.get("loss", float("nan"))),
                    "train_accuracy": float(logs.get("accuracy", float("nan"))),
                    "val_loss": float(logs.get("val_loss", float("nan"))),
                    "val_accuracy": float(logs.get("val_accuracy", float("nan"))),
                }
            )

    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch,
        validation_split=0.1,
        verbose=0,
        callbacks=[EpochTimer()],
    )
    _, accuracy = model.evaluate(xt, yt, batch_size=256, verbose=0)
    emit({"event": "test", "variant": variant, "dataset": args.dataset, "accuracy": float(accuracy)})
    if args.save:
        # Written beside the target and renamed, so an interrupted run leaves no half file.
        tmp = args.save + ".partial.keras"
        model.save(tmp)
        os.replace(tmp, args.save)
        emit({"event": "saved", "path": args.save})


if __name__ == "__main__":
    main()
