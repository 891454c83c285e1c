"""Measure classification on the public heimao complaint texts (shared/data/heimao, not shipped).

    python benchmarks/heimao_eval.py                          # data in ../shared/data/heimao
    python benchmarks/heimao_eval.py --data DIR --json out.json
    python benchmarks/heimao_eval.py --cv 5                   # also 5-fold cross-validation on train.csv

What it reports (docs/classify.md has the figures and the mapping):
1. the learned model (`classify train`'s defaults) trained on train.csv, scored on dev.csv:
   accuracy and macro-F1 (the baseline to beat: a character n-gram linear model, about 0.70);
2. the default rules, with no training at all, scored on dev.csv (and on train.csv, where the
   rules were tuned) under the policy's `heimao` label map from the twelve JR/T 0169 reasons to
   the six heimao classes; 待人工复核 maps to 其他类.

The same figures from the command line:

    complaintkit classify train DIR/train.csv --no-header --label-names DIR/label_mapping.txt -o heimao.json
    complaintkit classify evaluate DIR/dev.csv --no-header --label-names DIR/label_mapping.txt --model heimao.json
    complaintkit classify evaluate DIR/dev.csv --no-header --label-names DIR/label_mapping.txt --label-map heimao

The data stays where it is: nothing is copied into the project.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from complaintkit.classification import Classifier  # noqa: E402
from complaintkit.labelled import Columns, evaluate, read_label_names, read_labelled  # noqa: E402
from complaintkit.policy import load_policy  # noqa: E402
from complaintkit.textmodel import TrainSettings, train  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "heimao"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train.csv, dev.csv, label_mapping.txt")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--cv", type=int, default=0, help="also cross-validate on train.csv with this many folds")
    args = ap.parse_args()
    files = {name: args.data / name for name in ("train.csv", "dev.csv", "label_mapping.txt")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        print(f"heimao data not found ({', '.join(missing)}): nothing to measure", file=sys.stderr)
        return 2
    policy = load_policy()
    plain = Columns(no_header=True)
    names = read_label_names(files["label_mapping.txt"])
    train_data = read_labelled([str(files["train.csv"])], policy, plain)
    dev_data = read_labelled([str(files["dev.csv"])], policy, plain)
    settings = TrainSettings.from_mapping(policy.get("classify.model", {}) or {})
    out: dict = {"train_examples": len(train_data.examples), "dev_examples": len(dev_data.examples), "settings": vars(settings)}

    start = time.perf_counter()
    model = train(train_data.texts, [names.get(y, y) for y in train_data.labels], settings)
    out["train_seconds"] = round(time.perf_counter() - start, 1)
    model_eval = evaluate(dev_data, Classifier(policy, model), label_names=names)
    out["model_dev"] = model_eval.to_dict()

    rules = Classifier(policy)
    mapping = rules.settings.label_maps["heimao"]
    out["rules_dev"] = evaluate(dev_data, rules, label_map=mapping, label_names=names).to_dict()
    out["rules_train"] = evaluate(train_data, rules, label_map=mapping, label_names=names).to_dict()
    if args.cv:
        out["model_cv_train"] = evaluate(train_data, label_names=names, folds=args.cv, settings=settings).to_dict()

    print(f"heimao: train {out['train_examples']}, dev {out['dev_examples']} texts (model trained in {out['train_seconds']} s)")
    print(f"{'':34}{'accuracy':>10}{'macro-F1':>10}")
    rows = [("model, trained on train, on dev", out["model_dev"])]
    if args.cv:
        rows.append((f"model, {args.cv}-fold CV on train", out["model_cv_train"]))
    rows += [("rules (best guess), on dev", out["rules_dev"]), ("rules (best guess), on train", out["rules_train"])]
    for label, figures in rows:
        print(f"{label:34}{figures['accuracy']:>10.4f}{figures['macro_f1']:>10.4f}")
    for label, key in (("dev", "rules_dev"), ("train", "rules_train")):
        review = out[key]["review"]
        print(f"rules on {label}, as output (threshold {review['threshold']}, 待人工复核 -> 其他类): accuracy "
              f"{review['accuracy_as_output']:.4f}, macro-F1 {review['macro_f1_as_output']:.4f}; decided "
              f"{review['decided']} rows, {review['decided_accuracy']:.4f} of them right")
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
