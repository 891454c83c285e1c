"""The learned model: training, JSON round trip, explanations, metrics, and the train/evaluate
commands on small synthetic labelled data built here."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import pytest

from complaintkit.cli import cli
from complaintkit.labelled import Columns, read_label_names, read_labelled
from complaintkit.policy import load_policy
from complaintkit.textmodel import ModelError, TextModel, TrainSettings, model_text, ngrams, score, train

from conftest import write_xlsx

PHRASES = {
    "催收": ["催收人员天天打电话", "爆通讯录骚扰家人", "威胁要上门催款", "催收短信轰炸"],
    "收费": ["年费被多收了", "手续费太高", "利息计算不合理", "乱收服务费"],
    "服务": ["柜员态度很差", "排队等了很久", "客服一直不理人", "大堂经理推诿"],
}
FILLER = ["我在你行办理业务", "上个月", "今天下午", "希望尽快处理", "非常不满意", "请给个说法", "多次反映无果", "本人"]


def synthetic(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(PHRASES)[i % 3]
        parts = rng.sample(FILLER, 2) + rng.sample(PHRASES[label], 2)
        rng.shuffle(parts)
        out.append(("，".join(parts) + "。", label))
    return out


def write_csv(path: Path, rows, header=None) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data():
    return synthetic(90, 1), synthetic(30, 2)


@pytest.fixture(scope="module")
def model(data) -> TextModel:
    train_rows, _ = data
    return train([t for t, _ in train_rows], [y for _, y in train_rows])


def test_ngrams_do_not_span_punctuation():
    assert model_text("信用卡，ＡＢ 2025年") == "信用卡 ab 0年"
    assert ngrams("信用卡 ab", 1, 2) == {"信": 1, "用": 1, "卡": 1, "信用": 1, "用卡": 1, "a": 1, "b": 1, "ab": 1}


def test_learns_and_explains(model, data):
    _, test_rows = data
    predictions = [model.predict(t) for t, _ in test_rows]
    assert sum(p.label == y for p, (_, y) in zip(predictions, test_rows)) >= 28
    p = model.predict("催收人员爆通讯录")
    assert p.label == "催收" and p.probability > 0.5
    assert abs(sum(p.probabilities.values()) - 1) < 1e-9
    top = [g for g, _ in p.ngrams]
    assert "催收" in top or "催" in top
    assert all(w > 0 for _, w in p.ngrams) and p.ngrams == sorted(p.ngrams, key=lambda gw: -gw[1])


def test_json_round_trip_predicts_identically(model, data, tmp_path):
    path = tmp_path / "m.json"
    model.save(path)
    raw = json.loads(path.read_text("utf-8"))
    assert raw["format"] == "complaintkit-textmodel" and raw["classes"] == ["催收", "收费", "服务"]
    loaded = TextModel.load(path)
    for text, _ in data[1]:
        a, b = model.predict(text), loaded.predict(text)
        assert (a.label, a.probabilities, a.ngrams) == (b.label, b.probabilities, b.ngrams)


def test_training_is_deterministic(data, model):
    rows = data[0]
    again = train([t for t, _ in rows], [y for _, y in rows])
    assert again.vocabulary == model.vocabulary and again.bias == model.bias


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="pickle"), "format"),
    (lambda d: d.update(version=99), "version"),
    (lambda d: d.update(classes=["a"]), "classes"),
    (lambda d: d["bias"].append(0.0), "bias"),
    (lambda d: d["vocabulary"].update({"催": [1.0, "x", 0, 0]}), "vocabulary"),
    (lambda d: d["vocabulary"].update({"催": [float("nan"), 0, 0, 0]}), "vocabulary"),
])
def test_damaged_model_files_are_refused(model, tmp_path, change, message):
    data = model.to_dict()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        TextModel.load(path)


def test_training_needs_two_labels():
    with pytest.raises(ModelError, match="two different labels"):
        train(["甲乙", "甲丙"], ["a", "a"])
    with pytest.raises(ModelError):
        TrainSettings(ngram_min=3, ngram_max=2)


def test_metrics_known_answer():
    m = score(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert m.accuracy == 0.75
    assert m.per_class["a"].precision == 1.0 and m.per_class["a"].recall == 0.5
    assert m.per_class["b"].precision == pytest.approx(2 / 3) and m.per_class["b"].recall == 1.0
    assert m.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert m.confusion == [[1, 1], [0, 2]]
    # A label only ever predicted counts in the macro average with F1 0 (as scikit-learn does).
    extra = score(["a", "b"], ["a", "c"])
    assert extra.labels == ["a", "b", "c"] and extra.macro_f1 == pytest.approx(1 / 3)


# ------------------------------------------------------------------ reading labelled data

def test_plain_csv_without_header(data, tmp_path):
    path = write_csv(tmp_path / "train.csv", data[0][:5] + [("", "催收"), ("有文本没有标签", "")])
    read = read_labelled([str(path)], load_policy(), Columns(no_header=True))
    assert len(read.examples) == 5 and read.skipped == 2
    assert read.examples[0].label == data[0][0][1]


def test_plain_csv_with_header_by_name(data, tmp_path):
    path = write_csv(tmp_path / "t.csv", [(y, t) for t, y in data[0][:4]], header=["类别", "内容"])
    read = read_labelled([str(path)], load_policy(), Columns(label="类别", text="内容"))
    assert [e.label for e in read.examples] == [y for _, y in data[0][:4]]
    # A table that is not a register falls back to text/label headers.
    plain = write_csv(tmp_path / "p.csv", [(t, y) for t, y in data[0][:3]], header=["text", "label"])
    assert len(read_labelled([str(plain)], load_policy()).examples) == 3


def test_register_with_label_column(tmp_path):
    headers = ["投诉编号", "受理日期", "客户姓名", "投诉内容", "客户诉求", "投诉类别"]
    rows = [["T1", dt.date(2026, 1, 5), "李四", "催收电话打到单位", "停止骚扰", "催收"],
            ["T2", dt.date(2026, 1, 6), "王五", "年费多收", "", "收费"],
            ["T3", dt.date(2026, 1, 7), "赵六", "柜员态度差", "", None]]
    path = write_xlsx(tmp_path / "r.xlsx", rows, headers, title="台账")
    read = read_labelled([str(path)], load_policy(), Columns(label="投诉类别"))
    assert [(e.text, e.label) for e in read.examples] == [("催收电话打到单位 停止骚扰", "催收"), ("年费多收", "收费")]
    assert read.skipped == 1
    assert read.examples[0].where.endswith(":3")


def test_label_names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("标签编码映射表\n==========\n0: 催收行为类\n1: 其他类\n\n总计: 2 个类别\n", encoding="utf-8")
    names = read_label_names(path)
    assert names["0"] == "催收行为类" and names["1"] == "其他类"


# ------------------------------------------------------------------ the commands

def test_train_then_evaluate_round_trip(runner, data, tmp_path):
    train_csv = write_csv(tmp_path / "train.csv", data[0])
    test_csv = write_csv(tmp_path / "test.csv", data[1])
    model = tmp_path / "model.json"
    result = runner.invoke(cli, ["classify", "train", str(train_csv), "--no-header", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert "90" in result.stdout and model.exists()
    again = runner.invoke(cli, ["classify", "train", str(train_csv), "--no-header", "-o", str(model)])
    assert again.exit_code == 2 and "--force" in again.stderr
    ev = runner.invoke(cli, ["classify", "evaluate", str(test_csv), "--no-header", "--model", str(model), "--format", "json"])
    assert ev.exit_code == 0, ev.output
    report = json.loads(ev.stdout)
    assert report["method"] == "model" and report["examples"] == 30
    assert report["accuracy"] >= 0.9 and report["macro_f1"] >= 0.9
    assert set(report["per_class"]) == {"催收", "收费", "服务"}
    assert sum(map(sum, report["confusion"])) == 30
    table = runner.invoke(cli, ["classify", "evaluate", str(test_csv), "--no-header", "--model", str(model), "--format", "table"])
    assert "准确率" in table.stdout and "混淆矩阵" in table.stdout


def test_label_codes_and_names(runner, data, tmp_path):
    codes = {"催收": "0", "收费": "1", "服务": "2"}
    train_csv = write_csv(tmp_path / "train.csv", [(t, codes[y]) for t, y in data[0]])
    test_csv = write_csv(tmp_path / "test.csv", [(t, codes[y]) for t, y in data[1]])
    names = tmp_path / "names.txt"
    names.write_text("0: 催收类\n1: 收费类\n2: 服务类\n", encoding="utf-8")
    coded, named = tmp_path / "coded.json", tmp_path / "named.json"
    assert runner.invoke(cli, ["classify", "train", str(train_csv), "--no-header", "-o", str(coded)]).exit_code == 0
    assert runner.invoke(cli, ["classify", "train", str(train_csv), "--no-header", "-o", str(named), "--label-names", str(names)]).exit_code == 0
    assert TextModel.load(coded).classes == ["0", "1", "2"] and TextModel.load(named).classes == ["催收类", "收费类", "服务类"]
    for model in (coded, named):  # codes or names, predictions and labels meet as names
        args = ["classify", "evaluate", str(test_csv), "--no-header", "--model", str(model), "--label-names", str(names), "--format", "json"]
        report = json.loads(runner.invoke(cli, args).stdout)
        assert report["accuracy"] >= 0.9 and set(report["per_class"]) == {"催收类", "收费类", "服务类"}


def test_cross_validation(runner, data, tmp_path):
    path = write_csv(tmp_path / "all.csv", data[0])
    result = runner.invoke(cli, ["classify", "evaluate", str(path), "--no-header", "--folds", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["method"] == "cross-validation" and report["examples"] == 90 and report["accuracy"] >= 0.85


def test_rules_evaluated_with_label_names_and_map(runner, tmp_path):
    rows = [("催收人员天天打电话给我父母", "0"), ("信用卡年费被多收了，要求退还年费", "1"), ("客户来网点咨询", "2")]
    path = write_csv(tmp_path / "codes.csv", rows)
    names = tmp_path / "names.txt"
    names.write_text("0: 催收类\n1: 收费类\n2: 其他类\n", encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text('"债务催收方式和手段" = "催收类"\n"定价收费" = "收费类"\n"待人工复核" = "其他类"\n', encoding="utf-8")
    args = ["classify", "evaluate", str(path), "--no-header", "--label-names", str(names), "--format", "json"]
    report = json.loads(runner.invoke(cli, args + ["--label-map", str(mapping)]).stdout)
    assert report["method"] == "rules" and report["accuracy"] == 1.0
    assert report["review"]["decided"] == 2 and report["review"]["accuracy_as_output"] == 1.0
    unmapped = json.loads(runner.invoke(cli, args).stdout)
    assert unmapped["accuracy"] == 0.0  # JR/T labels never equal the data's own names
    named = json.loads(runner.invoke(cli, args + ["--label-map", "heimao"]).stdout)
    assert named["label_map"]["债务催收方式和手段"] == "催收行为类"
    bad = runner.invoke(cli, args + ["--label-map", "nosuchmap"])
    assert bad.exit_code == 2 and "classify.label_maps" in bad.stderr


def test_classify_with_model(runner, data, tmp_path):
    model_path = tmp_path / "m.json"
    train([t for t, _ in data[0]], [y for _, y in data[0]]).save(model_path)
    headers = ["投诉编号", "受理日期", "客户姓名", "投诉内容", "投诉类别"]
    rows = [["T1", dt.date(2026, 1, 5), "李四", "催收人员爆通讯录骚扰家人", "服务"],
            ["T2", dt.date(2026, 1, 6), "王五", "手续费太高，乱收服务费", "收费"]]
    register = write_xlsx(tmp_path / "r.xlsx", rows, headers)
    result = runner.invoke(cli, ["classify", str(register), "--model", str(model_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data_out = json.loads(result.stdout)
    assert data_out["method"] == "model"
    assert [r["reason"] for r in data_out["rows"]] == ["催收", "收费"]
    assert data_out["rows"][0]["evidence"][0]["source"] == "ngram"
    # The register said 服务 for row 2; the model's own labels are compared directly.
    assert [(d["row"], d["register"], d["classified"]) for d in data_out["disagreements"]] == [(2, "服务", "催收")]


def test_bad_model_file_exits_2(runner, tmp_path):
    register = write_xlsx(tmp_path / "r.xlsx", [["T1", dt.date(2026, 1, 5), "李四", "催收"]], ["投诉编号", "受理日期", "客户姓名", "投诉内容"])
    bad = tmp_path / "m.json"
    bad.write_text("not json", encoding="utf-8")
    result = runner.invoke(cli, ["classify", str(register), "--model", str(bad)])
    assert result.exit_code == 2 and "不是可用的 complaintkit 模型" in result.stderr
    result = runner.invoke(cli, ["classify", str(register), "--model", str(bad), "--lang", "en"])
    assert result.exit_code == 2 and "not a usable complaintkit model (not JSON: " in result.stderr
    missing = runner.invoke(cli, ["classify", "evaluate", str(register), "--model", str(tmp_path / "none.json")])
    assert missing.exit_code == 2


def test_group_help_shows_the_check_and_the_commands(runner):
    result = runner.invoke(cli, ["classify", "--help"])
    assert result.exit_code == 0
    assert "PATHS..." in result.stdout and "--model" in result.stdout
    assert "train" in result.stdout and "evaluate" in result.stdout
