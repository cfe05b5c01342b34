"""Side-by-side tables for benches/compare-*.sh, from the files one run left in a folder.

  tables.py training DIR   reads DIR/ours-{A,B}-r<round>[-<preset>].history.json and DIR/keras-{A,B}-r<round>.jsonl
  tables.py inference DIR  reads DIR/criterion-{A,B}-r<round>.json and DIR/tflite-{A,B}-r<round>.jsonl

Prints a table for people and, last, one JSON line with the same figures for scripts.
Only the standard library: it runs with any python3.
"""

import json
import os
import statistics
import sys


def json_lines(path):
    """The JSON objects of a file of JSON lines, skipping anything else a tool printed."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def load_or_none(path, loader):
    return loader(path) if os.path.exists(path) else None


def training(folder):
    """Per side: the median epoch of each round, then the best round; ours once per
    augmentation preset it was run with (the history's `augment`)."""
    names = sorted(os.listdir(folder))
    rows = []
    for variant in ("A", "B"):
        histories = [
            json.load(open(os.path.join(folder, n)))
            for n in names
            if n.startswith(f"ours-{variant}-r") and n.endswith(".history.json")
        ]
        keras = [
            json_lines(os.path.join(folder, n))
            for n in names
            if n.startswith(f"keras-{variant}-r") and n.endswith(".jsonl")
        ]
        presets = sorted({h.get("augment", "none") for h in histories}, key=PRESET_ORDER.index)
        for preset in presets or [None]:
            ours = [h for h in histories if h.get("augment", "none") == preset]
            row = training_row(variant, preset, ours, keras)
            if row:
                rows.append(row)
    for row in rows:
        base = next((r for r in rows if r["variant"] == row["variant"] and r["augment"] == "none"), None)
        if base and "ours_s" in row and "ours_s" in base:
            row["vs_none"] = row["ours_s"] / base["ours_s"]
    print_training(rows)
    return 0 if rows else 1


PRESET_ORDER = ["none", "light", "strong", "custom"]


def training_row(variant, preset, ours, keras):
    """One table row: our runs with `preset` beside Keras's runs of `variant`."""
    if not ours and not keras:
        return None
    row = {"variant": variant, "augment": preset}
    if ours:
        row["ours_rounds_s"] = [statistics.median(e["seconds"] for e in h["epochs"]) for h in ours]
        row["ours_s"] = min(row["ours_rounds_s"])
        row["ours_test_accuracy"] = ours[0].get("test_accuracy")
        row["ours_epochs"] = len(ours[0]["epochs"])
    if keras:
        runs = [[e for e in k if e.get("event") == "epoch"] for k in keras]
        row["keras_rounds_s"] = [statistics.median(e["train_seconds"] for e in r) for r in runs]
        row["keras_s"] = min(row["keras_rounds_s"])
        row["keras_with_val_s"] = min(statistics.median(e["seconds"] for e in r) for r in runs)
        test = [e for e in keras[0] if e.get("event") == "test"]
        row["keras_test_accuracy"] = test[0]["accuracy"] if test else None
        row["keras_epochs"] = len(runs[0])
    if "ours_s" in row and "keras_s" in row:
        row["ratio"] = row["ours_s"] / row["keras_s"]
    return row


def print_training(rows):
    """The table for people, then the JSON line."""
    def cell(value, fmt):
        return format(value, fmt) if isinstance(value, (int, float)) else "-"

    rounds = max((len(r.get("ours_rounds_s", [])) for r in rows), default=0)
    print(f"Training, batch 32, seconds per epoch (training pass; median epoch, best of {rounds} round(s))")
    print(
        f"{'variant':<8} {'augment':<8} {'picocnn':>9} {'Keras':>9} {'Keras+val':>10} {'ours/Keras':>11}"
        f" {'vs none':>8} {'acc ours':>9} {'acc Keras':>10}"
    )
    for r in rows:
        acc_o = r.get("ours_test_accuracy")
        acc_k = r.get("keras_test_accuracy")
        print(
            f"{r['variant']:<8} {r['augment'] or '-':<8} {cell(r.get('ours_s'), '9.2f')} {cell(r.get('keras_s'), '9.2f')}"
            f" {cell(r.get('keras_with_val_s'), '10.2f')} {cell(r.get('ratio'), '10.2f') + 'x':>11}"
            f" {cell(r.get('vs_none'), '7.2f') + 'x':>8}"
            f" {cell(acc_o * 100 if acc_o is not None else None, '8.2f') + '%':>9}"
            f" {cell(acc_k * 100 if acc_k is not None else None, '9.2f') + '%':>10}"
        )
    print(json.dumps({"event": "training", "rows": rows}))


def inference(folder):
    """Each side's best round: the least disturbed by other load on the machine."""
    names = sorted(os.listdir(folder))
    rows = []
    for variant in ("A", "B"):
        row = {"variant": variant}
        crit = [
            json.load(open(os.path.join(folder, n)))
            for n in names
            if n.startswith(f"criterion-{variant}-r") and n.endswith(".json")
        ]
        picocnn = [c["ns"] / 1000.0 for c in crit]
        best = [c["best_sample_ns"] / 1000.0 for c in crit if "best_sample_ns" in c]
        mins = {"builtin": [], "xnnpack": []}
        engines = {"builtin": [], "xnnpack": []}
        means = {"builtin": [], "xnnpack": []}
        for n in names:
            if not (n.startswith(f"tflite-{variant}-r") and n.endswith(".jsonl")):
                continue
            for record in json_lines(os.path.join(folder, n)):
                if record.get("event") == "timing":
                    key = "builtin" if record["engine"] == "tflite-builtin" else "xnnpack"
                    engines[key].append(record["us_per_image"])
                    if "mean_us" in record:
                        means[key].append(record["mean_us"])
                    mins[key].append(record["min_us"])
                    if record.get("overhead_us"):
                        row["python_overhead_us"] = record["overhead_us"]
                elif record.get("event") == "model":
                    row["tflite_bytes"] = record["tflite_bytes"]
                    row["tflite_f32_accuracy"] = record["f32_accuracy"]
                    row["tflite_int8_accuracy"] = record["int8_accuracy"]
                    row["tflite_drop_pp"] = record["drop_pp"]
        for key, samples in (("picocnn", picocnn), *engines.items()):
            if samples:
                row[f"{key}_us"] = min(samples)
                row[f"{key}_rounds_us"] = samples
        if len(row) == 1:
            continue
        for key in ("builtin", "xnnpack"):
            if "picocnn_us" in row and f"{key}_us" in row:
                row[f"ratio_vs_{key}"] = row["picocnn_us"] / row[f"{key}_us"]
            if "picocnn_us" in row and means[key]:
                row[f"{key}_mean_us"] = min(means[key])
                row[f"ratio_vs_{key}_mean"] = row["picocnn_us"] / row[f"{key}_mean_us"]
            if best and mins[key]:
                row["picocnn_best_sample_us"] = min(best)
                row[f"{key}_min_us"] = min(mins[key])
                row[f"ratio_vs_{key}_min"] = row["picocnn_best_sample_us"] / row[f"{key}_min_us"]
        rows.append(row)

    def cell(value, fmt):
        return format(value, fmt) if isinstance(value, (int, float)) else "-"

    rounds = max((len(r.get("picocnn_rounds_us", [])) for r in rows), default=0)
    print(f"Inference, int8, one image, one thread, microseconds per image (best of {rounds} rounds)")
    print(f"{'variant':<8} {'picocnn':>9} {'TFLite builtin':>15} {'TFLite XNNPACK':>15} {'ours/builtin':>13} {'ours/XNNPACK':>13}")
    for r in rows:
        print(
            f"{r['variant']:<8} {cell(r.get('picocnn_us'), '9.1f')} {cell(r.get('builtin_us'), '15.1f')}"
            f" {cell(r.get('xnnpack_us'), '15.1f')} {cell(r.get('ratio_vs_builtin'), '12.2f') + 'x':>13}"
            f" {cell(r.get('ratio_vs_xnnpack'), '12.2f') + 'x':>13}"
        )
    for r in rows:
        if "ratio_vs_xnnpack_mean" in r:
            print(
                f"against TFLite's mean time instead (preempted calls included, as in criterion's): "
                f"{r['variant']} {r['ratio_vs_builtin_mean']:.2f}x builtin, {r['ratio_vs_xnnpack_mean']:.2f}x XNNPACK"
            )
    for r in rows:
        if "ratio_vs_xnnpack_min" in r:
            print(
                f"least disturbed (picocnn's best criterion sample {r['picocnn_best_sample_us']:.1f} us vs TFLite's "
                f"fastest call {r['builtin_min_us']:.1f} / {r['xnnpack_min_us']:.1f} us): "
                f"{r['variant']} {r['ratio_vs_builtin_min']:.2f}x builtin, {r['ratio_vs_xnnpack_min']:.2f}x XNNPACK"
            )
    for r in rows:
        if "tflite_bytes" in r:
            print(
                f"TFLite {r['variant']}: {r['tflite_bytes']:,} bytes .tflite, test accuracy f32 "
                f"{100 * r['tflite_f32_accuracy']:.2f} % -> int8 {100 * r['tflite_int8_accuracy']:.2f} %"
            )
    overhead = next((r["python_overhead_us"] for r in rows if r.get("python_overhead_us")), None)
    if overhead:
        print(f"(TFLite figures include ~{overhead:.1f} us of Python call overhead per image; picocnn's is criterion's estimate)")
    print(json.dumps({"event": "inference", "rows": rows}))
    return 0 if rows else 1


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("training", "inference"):
        print("usage: tables.py training|inference DIR", file=sys.stderr)
        return 2
    return training(sys.argv[2]) if sys.argv[1] == "training" else inference(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
