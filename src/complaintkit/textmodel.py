"""A small, explainable text classifier learned from a bank's own labelled complaints.

Character n-grams (1 to 3 characters by default: Chinese has no spaces between words, and short
character runs such as 催收, 年费, 信用卡 carry most of the meaning) weighted by TF-IDF, and a
multinomial logistic regression over them, trained in pure Python by stochastic gradient descent
with L2 regularisation and class weights that balance rare and common labels. Each prediction
lists the n-grams that weighed most for the chosen label, so a branch can see why.

A model is saved as plain JSON (format ``complaintkit-textmodel``): opening a model file can never
run code, unlike a pickle. The model in memory after training is the one the file holds (weights
rounded as saved), so a reloaded model predicts exactly as the freshly trained one.

Why not scikit-learn or numpy: a few thousand to a few hundred thousand short texts train in
seconds to minutes in pure Python, and the toolkit stays installable on a locked-down branch PC
without a compiled numeric stack. On the public heimao data (docs/classify.md) this model
reaches the accuracy of the usual scikit-learn character n-gram baselines.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import ComplaintkitError
from .messages import Text, register_messages
from .outputs import atomic_write_text

MODEL_FORMAT = "complaintkit-textmodel"
MODEL_VERSION = 1
MODEL_KIND = "char-ngram-logistic-regression"
#: A model file larger than this is refused before it is parsed (a 10^6-row history gives ~50 MB).
MAX_MODEL_BYTES = 512 * 1024**2
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[\W_]+")
_ROUND = 6  # decimals kept in the file


class ModelError(ComplaintkitError):
    """A model file cannot be used, or a model cannot be trained from the data given."""


register_messages({
    "model_ngram_range": ("n-gram 范围 {lo}..{hi} 不可用（需 1 <= min <= max <= 8）", "n-gram range {lo}..{hi} is not usable (1 <= min <= max <= 8)"),
    "model_bad_numbers": ("min_df 和 epochs 至少为 1，learning_rate 应大于 0，l2 不能为负",
                          "min_df and epochs must be at least 1, learning_rate above 0 and l2 not negative"),
    "model_class_weight": ("class_weight 应为 'balanced' 或 'none'，而不是 {value!r}", "class_weight must be 'balanced' or 'none', not {value!r}"),
    "model_settings": ("classify.model 设置有误：{detail}", "classify.model settings: {detail}"),
    "model_unusable": ("{path}：不是可用的 complaintkit 模型（{what}）", "{path}: not a usable complaintkit model ({what})"),
    "model_what_format": ("format 不是 {format!r}", "format is not {format!r}"),
    "model_what_version": ("version 为 {version!r}；当前 complaintkit 只能读取 version {supported}",
                           "version {version!r}; this complaintkit reads version {supported}"),
    "model_what_kind": ("kind 为 {kind!r}", "kind {kind!r}"),
    "model_what_classes": ("classes 应为两个或以上互不相同的名称", "classes must be two or more different names"),
    "model_what_part": ("{part} 有误", "{part}"),
    "model_what_entry": ("vocabulary 中的 {gram!r} 有误", "vocabulary entry {gram!r}"),
    "model_what_json": ("不是 JSON：{detail}", "not JSON: {detail}"),
    "model_too_big": ("{path}：模型文件 {size:.0f} MiB，超过 {limit} MiB 的上限", "{path}: model file is {size:.0f} MiB, over the {limit} MiB limit"),
    "model_not_found": ("{path}：找不到模型文件", "{path}: model file not found"),
    "model_unreadable": ("{path}：无法读取模型文件（{detail}）", "{path}: model file cannot be read ({detail})"),
    "model_texts_labels": ("文本和标签的数量不一致", "texts and labels differ in number"),
    "model_one_label": ("训练至少需要两个不同的标签，现只有 {n} 个", "training needs at least two different labels, found {n}"),
    "model_too_little_data": ("没有哪个字符 n-gram 出现在 {min_df} 条或以上的文本中：训练数据太少",
                              "no character n-gram occurs in {min_df} or more texts: too little training data"),
    "model_folds": ("交叉验证的折数应为 2 到 {most}，而不是 {folds}", "cross-validation needs 2 to {most} folds, not {folds}"),
})


@dataclass(frozen=True)
class TrainSettings:
    """How a model is trained; defaults come from [classify.model] in the policy."""

    ngram_min: int = 1
    ngram_max: int = 3
    #: an n-gram must occur in at least this many texts to be learned (rarer ones are noise).
    min_df: int = 2
    epochs: int = 8
    learning_rate: float = 0.5
    l2: float = 3e-5
    #: "balanced" weighs each class by n / (classes x its count); "none" weighs every text alike.
    class_weight: str = "balanced"
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max <= 8:
            raise ModelError("model_ngram_range", lo=self.ngram_min, hi=self.ngram_max)
        if self.min_df < 1 or self.epochs < 1 or self.learning_rate <= 0 or self.l2 < 0:
            raise ModelError("model_bad_numbers")
        if self.class_weight not in ("balanced", "none"):
            raise ModelError("model_class_weight", value=self.class_weight)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> "TrainSettings":
        """Settings from a policy table (unknown keys ignored, missing ones defaulted)."""
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in spec.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise ModelError("model_settings", detail=str(exc)) from None


def model_text(text: str) -> str:
    """The text as the model sees it: NFKC, lower case, every digit run as 0 (amounts and dates
    are not topics), punctuation and spaces as a single space (n-grams never span them)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", _DIGITS.sub("0", folded)).strip()


def ngrams(text: str, lo: int = 1, hi: int = 3) -> Counter[str]:
    """Character n-gram counts of ``text`` (already folded by ``model_text``)."""
    out: Counter[str] = Counter()
    for chunk in text.split():
        size = len(chunk)
        for n in range(lo, min(hi, size) + 1):
            for i in range(size - n + 1):
                out[chunk[i:i + n]] += 1
    return out


@dataclass
class Prediction:
    """One text's label, its probability, every class's probability and the deciding n-grams."""

    label: str
    probability: float
    probabilities: dict[str, float]
    #: (n-gram, contribution to the chosen label's score), largest first.
    ngrams: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class TextModel:
    """A trained model: classes, the n-gram vocabulary with its IDF and per-class weights."""

    classes: list[str]
    ngram_min: int
    ngram_max: int
    bias: list[float]
    #: n-gram -> (idf, weight for each class)
    vocabulary: dict[str, tuple[float, tuple[float, ...]]]
    training: dict[str, Any] = field(default_factory=dict)

    def vector(self, text: str) -> list[tuple[str, float]]:
        """The text's TF-IDF vector over the vocabulary (sublinear TF, unit length)."""
        counts = ngrams(model_text(text), self.ngram_min, self.ngram_max)
        vocab = self.vocabulary
        items = [(g, (1.0 + math.log(c)) * vocab[g][0]) for g, c in counts.items() if g in vocab]
        norm = math.sqrt(sum(v * v for _, v in items)) or 1.0
        return [(g, v / norm) for g, v in items]

    def predict(self, text: str, explain: int = 5) -> Prediction:
        """The most probable class of ``text`` and the ``explain`` n-grams that weighed most for it.

        An n-gram's weight for a class counts relative to its mean weight over all classes (what
        every class shares decides nothing), times its value in the text.
        """
        x = self.vector(text)
        k = len(self.classes)
        scores = list(self.bias)
        vocab = self.vocabulary
        for g, v in x:
            weights = vocab[g][1]
            for c in range(k):
                scores[c] += weights[c] * v
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        probs = [e / total for e in exps]
        best = max(range(k), key=probs.__getitem__)
        contributions = []
        for g, v in x:
            weights = vocab[g][1]
            share = v * (weights[best] - sum(weights) / k)
            if share > 0:
                contributions.append((g, share))
        contributions.sort(key=lambda item: (-item[1], item[0]))
        return Prediction(self.classes[best], probs[best], dict(zip(self.classes, probs)),
                          [(g, round(s, 4)) for g, s in contributions[:explain]])

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "kind": MODEL_KIND,
            "classes": list(self.classes),
            "ngram_range": [self.ngram_min, self.ngram_max],
            "bias": [round(b, _ROUND) for b in self.bias],
            "training": self.training,
            "vocabulary": {g: [round(idf, _ROUND)] + [round(w, _ROUND) for w in ws] for g, (idf, ws) in self.vocabulary.items()},
        }

    def save(self, path: str | Path) -> None:
        """Write the model as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> "TextModel":
        """A model from its JSON form, every part checked: a damaged or foreign file is refused
        with one line saying what is wrong."""
        def bad(code: str, **params: Any) -> ModelError:
            return ModelError("model_unusable", path=where, what=Text(code, params))

        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise bad("model_what_format", format=MODEL_FORMAT)
        if data.get("version") != MODEL_VERSION:
            raise bad("model_what_version", version=data.get("version"), supported=MODEL_VERSION)
        if data.get("kind") != MODEL_KIND:
            raise bad("model_what_kind", kind=data.get("kind"))
        classes = data.get("classes")
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) and c for c in classes) \
                or len(set(classes)) != len(classes):
            raise bad("model_what_classes")
        k = len(classes)
        span = data.get("ngram_range")
        if not (isinstance(span, list) and len(span) == 2 and all(type(n) is int for n in span) and 1 <= span[0] <= span[1] <= 8):
            raise bad("model_what_part", part="ngram_range")
        bias = data.get("bias")
        if not _numbers(bias, k):
            raise bad("model_what_part", part="bias")
        vocab_in = data.get("vocabulary")
        if not isinstance(vocab_in, dict) or not vocab_in:
            raise bad("model_what_part", part="vocabulary")
        vocabulary: dict[str, tuple[float, tuple[float, ...]]] = {}
        for g, entry in vocab_in.items():
            if not _numbers(entry, k + 1) or entry[0] <= 0:
                raise bad("model_what_entry", gram=g)
            vocabulary[g] = (float(entry[0]), tuple(float(w) for w in entry[1:]))
        training = data.get("training") if isinstance(data.get("training"), dict) else {}
        return cls(list(classes), span[0], span[1], [float(b) for b in bias], vocabulary, training)

    @classmethod
    def load(cls, path: str | Path) -> "TextModel":
        """Read a model file (JSON only: nothing in it is executed)."""
        p = Path(path)
        try:
            size = p.stat().st_size
            if size > MAX_MODEL_BYTES:
                raise ModelError("model_too_big", path=p, size=size / 1024**2, limit=MAX_MODEL_BYTES // 1024**2)
            data = json.loads(p.read_text("utf-8-sig"))
        except FileNotFoundError:
            raise ModelError("model_not_found", path=p) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError("model_unreadable", path=p, detail=str(exc)) from None
        except json.JSONDecodeError as exc:
            raise ModelError("model_unusable", path=p, what=Text("model_what_json", {"detail": str(exc)})) from None
        return cls.from_dict(data, str(p))


def _numbers(value: Any, length: int) -> bool:
    return (isinstance(value, list) and len(value) == length
            and all(type(v) in (int, float) and math.isfinite(v) for v in value))


def train(texts: Sequence[str], labels: Sequence[str], settings: TrainSettings = TrainSettings(),
          source: str = "") -> TextModel:
    """Learn a model from texts and their labels (deterministic: same data, same model)."""
    if len(texts) != len(labels):
        raise ModelError("model_texts_labels")
    counts = Counter(labels)
    classes = sorted(counts)
    if len(classes) < 2:
        raise ModelError("model_one_label", n=len(classes))
    lo, hi = settings.ngram_min, settings.ngram_max
    grams = [ngrams(model_text(t), lo, hi) for t in texts]
    df: Counter[str] = Counter(g for doc in grams for g in doc)
    n = len(texts)
    names = sorted(g for g, c in df.items() if c >= settings.min_df)
    if not names:
        raise ModelError("model_too_little_data", min_df=settings.min_df)
    index = {g: i for i, g in enumerate(names)}
    idf = [math.log((1 + n) / (1 + df[g])) + 1.0 for g in names]
    vectors: list[list[tuple[int, float]]] = []
    for doc in grams:
        items = [(index[g], (1.0 + math.log(c)) * idf[index[g]]) for g, c in doc.items() if g in index]
        norm = math.sqrt(sum(v * v for _, v in items)) or 1.0
        vectors.append([(i, v / norm) for i, v in items])
    k = len(classes)
    target = [classes.index(y) for y in labels]
    if settings.class_weight == "balanced":
        weight = [n / (k * counts[c]) for c in classes]
    else:
        weight = [1.0] * k
    weights, bias = _sgd(vectors, target, len(names), k, weight, settings)
    vocabulary = {g: (round(idf[i], _ROUND), tuple(round(weights[c][i], _ROUND) for c in range(k))) for g, i in index.items()}
    training = {
        "examples": n,
        "class_counts": {c: counts[c] for c in classes},
        "settings": {f: getattr(settings, f) for f in settings.__dataclass_fields__},
        "source": source,
        "created": dt.datetime.now().replace(microsecond=0).isoformat(),
    }
    return TextModel(classes, lo, hi, [round(b, _ROUND) for b in bias], vocabulary, training)


def _sgd(vectors: list[list[tuple[int, float]]], target: list[int], size: int, k: int, class_weight: list[float],
         settings: TrainSettings) -> tuple[list[list[float]], list[float]]:
    """Softmax regression by SGD with a decaying step and L2 shrinkage. The shrinkage is kept as
    one scale factor per class instead of touching every weight at every step (the usual trick
    for sparse data), so a step costs only the text's own n-grams."""
    w = [[0.0] * size for _ in range(k)]
    scale = [1.0] * k
    bias = [0.0] * k
    order = list(range(len(vectors)))
    rng = random.Random(settings.seed)
    eta, l2 = settings.learning_rate, settings.l2
    step = 0
    for _ in range(settings.epochs):
        rng.shuffle(order)
        for j in order:
            step += 1
            rate = eta / (1.0 + eta * l2 * step)
            x = vectors[j]
            scores = [bias[c] + scale[c] * sum(w[c][i] * v for i, v in x) for c in range(k)]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            total = sum(exps)
            cw = class_weight[target[j]]
            for c in range(k):
                grad = cw * (exps[c] / total - (1.0 if c == target[j] else 0.0))
                scale[c] *= 1.0 - rate * l2
                if grad:
                    row = w[c]
                    f = rate * grad / scale[c]
                    for i, v in x:
                        row[i] -= f * v
                    # The bias moves more slowly than the weights: it only has to track class priors.
                    bias[c] -= rate * grad * 0.1
            if min(scale) < 1e-6:  # fold the scale back in before it underflows
                for c in range(k):
                    w[c] = [a * scale[c] for a in w[c]]
                    scale[c] = 1.0
    return [[a * scale[c] for a in w[c]] for c in range(k)], bias


@dataclass
class ClassScore:
    """Precision, recall and F1 of one class, and how many labelled examples it has."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Metrics:
    """How well predictions match gold labels."""

    labels: list[str]
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScore]
    #: confusion[i][j]: examples of gold label labels[i] predicted as labels[j].
    confusion: list[list[int]]
    examples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": {c: {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4),
                              "support": s.support} for c, s in self.per_class.items()},
            "labels": list(self.labels),
            "confusion": [list(row) for row in self.confusion],
        }


def score(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str] | None = None) -> Metrics:
    """Accuracy, macro-F1 (the mean F1 over every label seen in gold or predictions, as
    scikit-learn computes it), per-class precision/recall and the confusion matrix."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    order = list(dict.fromkeys(list(labels or []) + sorted(set(gold)) + sorted(set(predicted) - set(gold))))
    pos = {c: i for i, c in enumerate(order)}
    confusion = [[0] * len(order) for _ in order]
    for g, p in zip(gold, predicted):
        confusion[pos[g]][pos[p]] += 1
    per: dict[str, ClassScore] = {}
    present = set(gold) | set(predicted)
    for c in order:
        i = pos[c]
        tp = confusion[i][i]
        predicted_c = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted_c if predicted_c else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[c] = ClassScore(precision, recall, f1, support)
    n = len(gold)
    accuracy = sum(confusion[i][i] for i in range(len(order))) / n if n else 0.0
    seen = [c for c in order if c in present]
    macro = sum(per[c].f1 for c in seen) / len(seen) if seen else 0.0
    return Metrics(order, accuracy, macro, per, confusion, n)


def cross_validate(texts: Sequence[str], labels: Sequence[str], folds: int = 5,
                   settings: TrainSettings = TrainSettings()) -> list[str]:
    """Each text's label as predicted by a model trained on the other folds: how well a model
    trained on this data would do on complaints it has not seen."""
    if folds < 2 or folds > len(texts):
        raise ModelError("model_folds", most=len(texts), folds=folds)
    order = list(range(len(texts)))
    random.Random(settings.seed).shuffle(order)
    predicted = [""] * len(texts)
    for f in range(folds):
        held = set(order[f::folds])
        model = train([texts[i] for i in order if i not in held], [labels[i] for i in order if i not in held], settings)
        for i in held:
            predicted[i] = model.predict(texts[i], explain=0).label
    return predicted
