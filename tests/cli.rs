//! Runs the built `steplab` binary on fixtures: JSON shape, options, exit codes, messages.
#![allow(clippy::unwrap_used)] // Test helpers may fail loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn steplab(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_steplab"))
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_ok(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    let out = steplab(&args);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Runs on a fixture and returns the single stderr line of a refused run.
fn run_err(file: &str, extra: &[&str]) -> String {
    let path = fixture(file);
    let mut args = vec![
        "run",
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = steplab(&args);
    assert_eq!(
        out.code, 1,
        "{file} should be refused; stdout: {}",
        out.stdout
    );
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end().lines().count(),
        1,
        "one sentence: {}",
        out.stderr
    );
    out.stderr
        .trim_end()
        .replace(path.to_str().unwrap(), "FILE")
}

/// A directory of its own for a test's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("steplab-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `text` to the file `name` in it and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn linear_regression_json_has_the_contract_shape() {
    let path = fixture("clean.csv");
    let j = run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--standardize",
        "--steps",
        "5",
        "--lr",
        "0.1",
    ]);
    assert_eq!(j["algorithm"], "linear-regression");
    assert_eq!(j["features"], serde_json::json!(["x1", "x2"]));
    assert_eq!(j["target"], "y");
    assert_eq!(j["rows"], 5);
    assert_eq!(j["stopped"], "max_steps");
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i);
        assert!(s["loss"].is_f64());
        assert_eq!(s["params"]["weights"].as_array().unwrap().len(), 2);
        assert!(s["params"]["bias"].is_f64());
    }
    assert_eq!(steps[0]["params"]["bias"], 0.0);
    assert_eq!(j["final"], steps[5]);
    // Step 1 by hand: standardized features have mean 0, so ∂J/∂b = −mean(y) = −9 and b₁ = 0.9.
    assert!((steps[1]["params"]["bias"].as_f64().unwrap() - 0.9).abs() < 1e-12);
}

#[test]
fn long_gradient_descent_reaches_the_closed_form_reference() {
    let path = fixture("clean.csv");
    let j = run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--standardize",
        "--steps",
        "5000",
        "--every",
        "1000",
    ]);
    let w = &j["final"]["params"]["weights"];
    let w_ref = &j["reference"]["params"]["weights"];
    for k in 0..2 {
        assert!((w[k].as_f64().unwrap() - w_ref[k].as_f64().unwrap()).abs() < 1e-9);
    }
    let steps: Vec<u64> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_u64().unwrap())
        .collect();
    // Either converged early (last step kept) or every 1000th step.
    assert_eq!(steps[0], 0);
    assert!(
        steps.iter().skip(1).rev().skip(1).all(|s| s % 1000 == 0),
        "{steps:?}"
    );
}

#[test]
fn every_keeps_first_and_last() {
    let path = fixture("clean.csv");
    let j = run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--standardize",
        "--steps",
        "25",
        "--every",
        "10",
    ]);
    let steps: Vec<u64> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![0, 10, 20, 25]);
    assert_eq!(j["final"]["step"], 25);
}

#[test]
fn features_and_target_choose_columns_in_order() {
    let path = fixture("clean.csv");
    let j = run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--target",
        "x1",
        "--features",
        "y,x2",
        "--steps",
        "1",
        "--lr",
        "0.001",
    ]);
    assert_eq!(j["features"], serde_json::json!(["y", "x2"]));
    assert_eq!(j["target"], "x1");
    // Names are matched as the header's are read, without spaces around.
    let spaced = run_ok(&[
        "--algorithm",
        "pca",
        "--data",
        path.to_str().unwrap(),
        "--features",
        " x2 , x1",
        "--steps",
        "1",
    ]);
    assert_eq!(spaced["features"], serde_json::json!(["x2", "x1"]));
    assert_eq!(
        run_err("clean.csv", &["--features", "x1,x2,x1"]),
        "steplab: column 'x1' is chosen twice as a feature (features 1 and 3): FILE"
    );
}

#[test]
fn text_columns_left_out_of_the_default_features_are_named() {
    let dir = Scratch::new("text");
    // Thousands separators are not a number format Steplab reads.
    let f = dir.file("t.csv", "a;b;y\n1.234,5;2;3\n2.000,0;3;5\n4,0;1;6\n");
    let out = steplab(&["run", "--algorithm", "linear-regression", "--data", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        "steplab: note: column 'a' holds text ('1.234,5' on line 2), so it is not a feature"
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["features"], serde_json::json!(["b"]));
    // Chosen features get no note.
    let out = steplab(&[
        "run",
        "--algorithm",
        "linear-regression",
        "--data",
        &f,
        "--features",
        "b",
    ]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // A quoted line break is written as \n: the note stays one line.
    let f = dir.file("n.csv", "a,b,y\n\"4\nx\",2,3\nu,3,5\nv,1,6\n");
    let out = steplab(&["run", "--algorithm", "linear-regression", "--data", &f]);
    assert_eq!(
        out.stderr.trim_end(),
        "steplab: note: column 'a' holds text ('4\\nx' on line 2), so it is not a feature"
    );
}

#[test]
fn messy_files_are_read_like_the_clean_ones() {
    let base = |f: &str| {
        let p = fixture(f);
        run_ok(&[
            "--algorithm",
            "linear-regression",
            "--data",
            p.to_str().unwrap(),
            "--steps",
            "3",
            "--lr",
            "0.01",
        ])
    };
    // The same three rows written with different delimiters, line ends and encodings.
    let reference = base("tab.csv");
    for f in ["pipe.csv", "bom_crlf.csv"] {
        let j = base(f);
        assert_eq!(j["features"], reference["features"], "{f}");
        assert_eq!(j["final"], reference["final"], "{f}");
    }
    let j = base("semicolon_decimal_comma.csv");
    assert_eq!(j["rows"], 3);
    assert_eq!(j["features"], serde_json::json!(["x1", "x2"]));
    let j = base("spaces_blank_lines_no_final_newline.csv");
    assert_eq!(j["rows"], 4);
    assert_eq!(j["features"], serde_json::json!(["x1", "x2"]));
    // Quoted fields with embedded newlines and a Latin-1 file: the text column is skipped.
    for f in ["quoted_newline.csv", "latin1.csv"] {
        let j = base(f);
        assert_eq!(j["features"], serde_json::json!(["x1"]), "{f}");
        assert_eq!(j["rows"], 3, "{f}");
    }
}

#[test]
fn each_bad_file_gets_its_own_sentence() {
    let cases = [
        (
            "binary.csv",
            "this is not a text CSV file (binary content near byte 8): FILE",
        ),
        ("empty.csv", "the file is empty: FILE"),
        (
            "header_only.csv",
            "the file has a header (line 1) but no data rows: FILE",
        ),
        (
            "ragged.csv",
            "line 3 has 2 fields ('4,5') but the header has 3 columns: FILE",
        ),
        (
            "non_numeric_feature.csv",
            "line 4, column 'x2': 'abc' is not a number: FILE",
        ),
        (
            "non_numeric_target.csv",
            "line 5, column 'y': 'oops' is not a number (the target column is numeric elsewhere): FILE",
        ),
        (
            "duplicate_columns.csv",
            "column name 'x1' appears twice in the header (line 1, columns 1 and 3): FILE",
        ),
        (
            "missing.csv",
            "column 'x1' has 2 missing or non-finite values (line 3 'NaN', line 5 'nan'); column 'x2' has 5 missing or non-finite values (line 4 '', line 6 'NA', line 7 'inf', ...); drop those rows or fill in the column means to continue (--missing drop or mean; in the window, drop rows or fill mean): FILE",
        ),
    ];
    for (file, want) in cases {
        assert_eq!(run_err(file, &[]), format!("steplab: {want}"), "{file}");
    }
    assert_eq!(
        run_err("constant_column.csv", &["--standardize"]),
        "steplab: column 'x2' is constant (every value is 7), so it cannot be standardized: FILE"
    );
    assert_eq!(
        run_err("clean.csv", &["--features", "x1,nope"]),
        "steplab: there is no column named 'nope' (columns: x1, x2, y): FILE"
    );
    assert_eq!(
        run_err("text_target.csv", &[]),
        "steplab: linear-regression needs a numeric target, but column 'species' holds text labels: FILE"
    );
    assert!(
        run_err("text_target.csv", &["--features", "species"])
            .contains("cannot be both the target and a feature")
    );
}

#[test]
fn missing_cells_dropped_or_filled() {
    let path = fixture("missing.csv");
    let p = path.to_str().unwrap();
    let common = [
        "--algorithm",
        "linear-regression",
        "--data",
        p,
        "--steps",
        "1",
        "--lr",
        "0.0001",
    ];
    let mut drop = common.to_vec();
    drop.extend(["--missing", "drop"]);
    let j = run_ok(&drop);
    assert_eq!(j["rows"], 3);
    assert!(
        j["missing"]
            .as_str()
            .unwrap()
            .contains("7 of 10 rows dropped"),
        "{}",
        j["missing"]
    );
    let mut mean = common.to_vec();
    mean.extend(["--missing", "mean"]);
    let j = run_ok(&mean);
    assert_eq!(j["rows"], 10);
    // x1's observed values: 1, 7, 13, 16, 19, 22, 25, 28 → mean 16.375.
    assert!(
        j["missing"]
            .as_str()
            .unwrap()
            .contains("filled with the mean 16.375"),
        "{}",
        j["missing"]
    );
    // Step 0's gradient sees the filled values: check it through step 1's weights.
    assert!(
        j["final"]["params"]["weights"][0]
            .as_f64()
            .unwrap()
            .is_finite()
    );
}

#[test]
fn a_diverging_run_says_where_and_why() {
    let path = fixture("diverge.csv");
    let out = steplab(&[
        "run",
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--lr",
        "0.1",
        "--steps",
        "10000",
    ]);
    assert_eq!(out.code, 0);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(j["stopped"], "diverged");
    let at = j["diverged_at"].as_u64().unwrap();
    assert_eq!(j["final"]["step"], at);
    assert!(at < 10000);
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("step {at}")) && msg.contains("2/L"),
        "{msg}"
    );
    assert!(out.stderr.contains("diverged"), "{}", out.stderr);
    // Values too large to square diverge before any update: the data's
    // size is to blame, not the rate.
    let dir = Scratch::new("huge");
    let f = dir.file("h.csv", "x,y\n1e300,2e300\n2e300,1e300\n3e300,5e300\n");
    for algorithm in ["linear-regression", "k-means"] {
        let j = run_ok(&["--algorithm", algorithm, "--data", &f, "--steps", "5"]);
        assert_eq!(j["stopped"], "diverged");
        assert_eq!(j["diverged_at"], 0);
        let msg = j["message"].as_str().unwrap();
        assert!(
            msg.contains("initial parameters") && msg.contains("standardize"),
            "{msg}"
        );
    }
    // A penalty too strong to compute with is blamed, not the data.
    let f = dir.file("small.csv", "a,y\n1,2\n2,3\n3,5\n4,4\n");
    let j = run_ok(&[
        "--algorithm",
        "mlp",
        "--data",
        &f,
        "--l2",
        "1e308",
        "--steps",
        "3",
    ]);
    assert_eq!(j["diverged_at"], 0);
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.contains("--l2") && !msg.contains("standardize"),
        "{msg}"
    );
}

#[test]
fn logistic_regression_text_labels_and_newton() {
    let path = fixture("two_text_classes.csv");
    let p = path.to_str().unwrap();
    let j = run_ok(&[
        "--algorithm",
        "logistic-regression",
        "--data",
        p,
        "--l2",
        "0.1",
        "--steps",
        "20",
        "--optimizer",
        "newton",
    ]);
    assert_eq!(j["classes"], serde_json::json!(["no", "yes"]));
    assert_eq!(j["target"], "label");
    let newton = j["final"]["params"]["weights"].clone();
    let j = run_ok(&[
        "--algorithm",
        "logistic-regression",
        "--data",
        p,
        "--l2",
        "0.1",
        "--steps",
        "20000",
        "--lr",
        "0.5",
        "--every",
        "5000",
    ]);
    for k in 0..2 {
        let a = newton[k].as_f64().unwrap();
        let b = j["final"]["params"]["weights"][k].as_f64().unwrap();
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // Text labels with three classes are refused with the reason.
    let three = fixture("text_target.csv");
    let out = steplab(&[
        "run",
        "--algorithm",
        "logistic-regression",
        "--data",
        three.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("exactly two classes") && out.stderr.contains("setosa"),
        "{}",
        out.stderr
    );
}

#[test]
fn singular_normal_equations_are_reported_in_the_reference() {
    let path = fixture("collinear.csv");
    let j = run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        path.to_str().unwrap(),
        "--steps",
        "2",
        "--lr",
        "0.001",
    ]);
    assert!(
        j["reference"]["error"]
            .as_str()
            .unwrap()
            .contains("singular")
    );
}

#[test]
fn bad_arguments_are_one_sentence_and_exit_nonzero() {
    let path = fixture("clean.csv");
    let p = path.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["run", "--algorithm", "nope", "--data", p],
            "unknown algorithm 'nope'",
        ),
        (
            vec![
                "run",
                "--algorithm",
                "linear-regression",
                "--data",
                p,
                "--optimizer",
                "sgdx",
            ],
            "unknown optimizer",
        ),
        (
            vec![
                "run",
                "--algorithm",
                "linear-regression",
                "--data",
                p,
                "--missing",
                "maybe",
            ],
            "unknown --missing",
        ),
        (
            vec![
                "run",
                "--algorithm",
                "linear-regression",
                "--data",
                p,
                "--lr=-1",
            ],
            "learning rate",
        ),
        (
            vec![
                "run",
                "--algorithm",
                "linear-regression",
                "--data",
                p,
                "--every",
                "0",
            ],
            "--every",
        ),
        (
            vec![
                "run",
                "--algorithm",
                "linear-regression",
                "--data",
                "/nonexistent/x.csv",
            ],
            "cannot read the file",
        ),
    ] {
        let out = steplab(&args);
        assert_eq!(out.code, 1, "{args:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim_end().lines().count(), 1);
    }
}

#[test]
fn malformed_arguments_are_one_sentence_too() {
    let path = fixture("clean.csv");
    let p = path.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--algorithm", "linear-regression", "--data", p];
        args.extend_from_slice(extra);
        steplab(&args)
    };
    // Negative numbers are values, refused by the run with its reason.
    for (extra, needle) in [
        (
            &["--lr", "-1"][..],
            "learning rate must be a positive number, got -1",
        ),
        (
            &["--l2", "-1"],
            "--l2 must be a non-negative number, got -1",
        ),
        (
            &["--l1", "-0.5"],
            "--l1 must be a non-negative number, got -0.5",
        ),
    ] {
        let out = run(extra);
        assert_eq!(out.code, 1, "{extra:?}");
        assert!(out.stderr.contains(needle), "{extra:?}: {}", out.stderr);
    }
    // What clap cannot parse: one line naming the option, exit code 2.
    for (extra, needle) in [
        (&["--lr", "abc"][..], "invalid value 'abc' for '--lr <LR>'"),
        (
            &["--steps", "1.5"],
            "invalid value '1.5' for '--steps <STEPS>'",
        ),
        (
            &["--steps", "2", "--steps", "3"],
            "'--steps <STEPS>' cannot be used multiple times",
        ),
        (&["--bogus"], "unexpected argument '--bogus'"),
    ] {
        let out = run(extra);
        assert_eq!(out.code, 2, "{extra:?}");
        assert!(out.stdout.is_empty());
        assert_eq!(out.stderr.lines().count(), 1, "{extra:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("steplab: ") && out.stderr.contains(needle),
            "{extra:?}: {}",
            out.stderr
        );
    }
    let out = steplab(&["run", "--algorithm", "k-means"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim_end(),
        "steplab: the following required arguments were not provided: --data <DATA>; see steplab run --help"
    );
}

#[test]
fn networks_too_large_and_one_class_targets_are_refused() {
    let clean = fixture("clean.csv");
    for hidden in ["100000,100000", "18446744073709551615", "400,400"] {
        let out = steplab(&[
            "run",
            "--algorithm",
            "mlp",
            "--data",
            clean.to_str().unwrap(),
            "--hidden",
            hidden,
        ]);
        assert_eq!(out.code, 1, "{hidden}: {}", out.stderr);
        assert!(
            out.stderr.contains("at most 100000 are allowed"),
            "{}",
            out.stderr
        );
    }
    let dir = Scratch::new("one");
    let one = dir.file("one.csv", "x1,x2,lab\n1,2,a\n2,3,a\n3,1,a\n");
    for algorithm in ["mlp", "softmax-regression", "logistic-regression"] {
        let out = steplab(&["run", "--algorithm", algorithm, "--data", &one]);
        assert_eq!(out.code, 1, "{algorithm}");
        assert!(
            out.stderr.contains(&format!(
                "{algorithm} needs at least two classes in the target column 'lab', but every row is 'a'"
            )) && out.stderr.trim_end().ends_with("one.csv"),
            "{}",
            out.stderr
        );
    }
    // A label per row: far too many classes to learn anything.
    let rows: Vec<String> = (0..1001)
        .map(|i| format!("{},{},L{i}", i % 7, i % 5))
        .collect();
    let many = dir.file("many.csv", &format!("x1,x2,lab\n{}\n", rows.join("\n")));
    for algorithm in ["mlp", "softmax-regression"] {
        let out = steplab(&["run", "--algorithm", algorithm, "--data", &many]);
        assert_eq!(out.code, 1, "{algorithm}");
        assert!(
            out.stderr.contains(&format!(
                "{algorithm} takes at most 1000 classes, but the target column 'lab' has 1001 distinct labels"
            )),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn an_mlp_that_classifies_names_its_classes() {
    let labels = fixture("two_text_classes.csv");
    let json = run_ok(&[
        "--algorithm",
        "mlp",
        "--data",
        labels.to_str().unwrap(),
        "--steps",
        "1",
    ]);
    assert_eq!(json["classes"], serde_json::json!(["no", "yes"]));
    let numbers = fixture("clean.csv");
    let json = run_ok(&[
        "--algorithm",
        "mlp",
        "--data",
        numbers.to_str().unwrap(),
        "--steps",
        "1",
    ]);
    assert!(json.get("classes").is_none(), "{json}");
}

#[test]
fn init_rows_are_the_files_data_rows_even_when_rows_are_dropped() {
    let dir = Scratch::new("init");
    let f = &dir.file("drop.csv", "a,b\n0,0\nNA,1\n2,2\n3,3\n4,4\n5,5\n");
    let base = ["--data", f, "--missing", "drop", "--steps", "0"];
    for algorithm in ["k-means", "gmm"] {
        let mut args = vec!["--algorithm", algorithm, "--init-rows", "2,5"];
        args.extend_from_slice(&base);
        let json = run_ok(&args);
        assert_eq!(json["rows"], 5);
        let centers = if algorithm == "gmm" {
            "means"
        } else {
            "centroids"
        };
        assert_eq!(
            json["final"]["params"][centers],
            serde_json::json!([[2.0, 2.0], [5.0, 5.0]]),
            "{algorithm}"
        );
        for (rows, needle) in [
            (
                "0,1",
                "--init-rows names row 1, but that row was dropped for its missing cells",
            ),
            ("0,6", "--init-rows names row 6, but the data has 6 rows"),
        ] {
            let mut args = vec!["run", "--algorithm", algorithm, "--init-rows", rows];
            args.extend_from_slice(&base);
            let out = steplab(&args);
            assert_eq!(out.code, 1);
            // What the algorithm finds wrong with the data names the file.
            assert!(
                out.stderr.contains(needle) && out.stderr.trim_end().ends_with("drop.csv"),
                "{}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_reader_that_stops_reading_ends_the_run_quietly() {
    use std::process::Stdio;
    let path = fixture("clean.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_steplab"))
        .args(["run", "--algorithm", "linear-regression", "--lr", "0.01"])
        .args(["--data", path.to_str().unwrap(), "--steps", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Far more than a pipe holds is still to be written when it closes.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn under_missing_mean_the_features_are_filled_and_rows_without_a_target_dropped() {
    let dir = Scratch::new("mean");
    let f = &dir.file(
        "t.csv",
        "a,b,lab\n1,2,0\n2,,1\n3,4,\n4,5,NaN\n5,6,1\n6,7,0\n",
    );
    for algorithm in ["mlp", "logistic-regression", "linear-regression"] {
        let json = run_ok(&[
            "--algorithm",
            algorithm,
            "--data",
            f,
            "--missing",
            "mean",
            "--steps",
            "1",
        ]);
        assert_eq!(json["rows"], 4, "{algorithm}");
        let report = json["missing"].as_str().unwrap();
        assert!(
            report.contains("2 of 6 rows dropped"),
            "{algorithm}: {report}"
        );
        assert!(
            report.contains("column 'b'") && report.contains("filled with the mean 5;"),
            "{report}"
        );
        assert!(!report.contains("filled with the mean 0.5"), "{report}");
        let classifies = algorithm != "linear-regression";
        assert_eq!(json.get("classes").is_some(), classifies, "{algorithm}");
    }
}

#[test]
fn data_too_wide_for_an_algorithms_matrices_is_refused_before_they_are_made() {
    use std::fmt::Write as _;
    let dir = Scratch::new("wide");
    // 5,000 features: a 5,001 × 5,001 matrix is 200 MB.
    let mut text = String::new();
    for j in 0..5000 {
        write!(text, "c{j},").unwrap();
    }
    text.push_str("y\n");
    for r in 0..4 {
        let row: Vec<String> = (0..=5000)
            .map(|j| ((j * 7 + r * 3) % 10).to_string())
            .collect();
        writeln!(text, "{}", row.join(",")).unwrap();
    }
    let f = &dir.file("wide.csv", &text);
    // Linear regression's moments take the target too; PCA and GMM take
    // every column as a feature.
    for (algorithm, features) in [("linear-regression", 5000), ("pca", 5001), ("gmm", 5001)] {
        let out = steplab(&["run", "--algorithm", algorithm, "--data", f, "--steps", "1"]);
        assert_eq!(out.code, 1, "{algorithm}");
        assert!(
            out.stderr
                .contains(&format!("of 5001 × 5001 from the {features} features")),
            "{algorithm}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("choose fewer features with --features"));
    }
    // Algorithms without such matrices run on it.
    let json = run_ok(&[
        "--algorithm",
        "k-means",
        "--data",
        f,
        "--k",
        "2",
        "--steps",
        "1",
    ]);
    assert_eq!(json["features"].as_array().unwrap().len(), 5001);
}

#[test]
fn the_windows_options_are_checked_before_a_window_opens() {
    let out = steplab(&["--algorithm", "nope"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("steplab: unknown algorithm 'nope'; choose one of: linear-regression")
    );
    let out = steplab(&["--data", "/nonexistent/x.csv", "--algorithm", "pca"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("steplab: cannot read the file (")
            && out.stderr.trim_end().ends_with("): /nonexistent/x.csv"),
        "{}",
        out.stderr
    );
}

#[test]
fn nothing_is_written_next_to_the_input() {
    let dir = Scratch::new("cli");
    let file = dir.file(
        "data.csv",
        &std::fs::read_to_string(fixture("clean.csv")).unwrap(),
    );
    let before: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    run_ok(&[
        "--algorithm",
        "linear-regression",
        "--data",
        &file,
        "--steps",
        "3",
    ]);
    let after: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn list_and_derive_cover_every_algorithm_in_every_format() {
    let out = steplab(&["list"]);
    assert_eq!(out.code, 0);
    let ids: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert!(
        ids.contains(&"linear-regression".to_string())
            && ids.contains(&"logistic-regression".to_string())
    );
    for id in &ids {
        for format in ["text", "latex", "markdown"] {
            let out = steplab(&["derive", id, "--format", format]);
            assert_eq!(out.code, 0, "{id} {format}: {}", out.stderr);
            assert!(out.stdout.contains(id.as_str()));
            assert!(out.stdout.contains("1. "), "{id} {format}");
        }
    }
    let out = steplab(&[
        "derive",
        "linear-regression",
        "--optimizer",
        "adam",
        "--format",
        "markdown",
    ]);
    assert!(out.stdout.contains(r"\hat{m}_t"));
    assert_eq!(steplab(&["derive", "nope"]).code, 1);
    // An optimizer the algorithm does not offer is refused, not ignored.
    for (id, optimizer, says) in [
        ("k-means", "adam", "k-means's update is not a gradient step"),
        (
            "perceptron",
            "gd",
            "perceptron's update is not a gradient step",
        ),
        (
            "linear-regression",
            "newton",
            "'newton' does not apply to linear-regression; choose gd, momentum",
        ),
    ] {
        let out = steplab(&["derive", id, "--optimizer", optimizer]);
        assert_eq!(out.code, 1, "{id} {optimizer}");
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
    let out = steplab(&["derive", "linear-svm", "--optimizer", "pegasos"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // `run` names the same choices, Newton's method among them.
    let exam = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/exam_pass.csv");
    let exam = exam.to_str().unwrap();
    let run = ["run", "--algorithm", "logistic-regression", "--data", exam];
    let out = steplab(&[&run[..], &["--optimizer", "pegasos"]].concat());
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("choose gd, momentum, nesterov, adagrad, rmsprop, adam, newton"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_streamed_json_is_the_whole_object_written_in_one_go() {
    use steplab::cli::{RunArgs, run_json};
    // The report writes its steps one at a time; the object it stands
    // for, built whole and written again, must be the same text: the same
    // fields in the same order, `steps` among them.
    let houses = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/houses.csv");
    for (algorithm, lr, hidden) in [
        ("mlp", None, Some(vec![4])),
        ("linear-regression", Some(50.0), None),
    ] {
        let args = RunArgs {
            algorithm: algorithm.into(),
            data: houses.clone(),
            steps: 12,
            every: 5,
            lr,
            hidden,
            missing: "error".into(),
            ..RunArgs::default()
        };
        let report = run_json(&args).unwrap();
        let whole = serde_json::to_value(&report).unwrap();
        assert!(whole["steps"].as_array().is_some_and(|s| s.len() > 2));
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "{algorithm}"
        );
    }
}

#[test]
fn a_feature_name_holding_a_comma_is_chosen_in_double_quotes() {
    let dir = Scratch::new("comma");
    let f = dir.file("c.csv", "a,\"b,x\",y\n1,2,3\n2,1,5\n3,4,6\n4,3,9\n");
    // Linear regression on the file, each of `lists` given to --features.
    let args = |lists: &[&'static str]| {
        let mut args = vec!["--algorithm", "linear-regression", "--data", f.as_str()];
        for list in lists {
            args.extend(["--features", list]);
        }
        args
    };
    let j = run_ok(&args(&["\"b,x\",a"]));
    assert_eq!(j["features"], serde_json::json!(["b,x", "a"]));
    // Given twice, the lists add up.
    let j = run_ok(&args(&["a", "\"b,x\""]));
    assert_eq!(j["features"], serde_json::json!(["a", "b,x"]));
    // The error lists it as it is to be written.
    let out = steplab(&[vec!["run"], args(&["b"])].concat());
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("(columns: a, \"b,x\", y)"),
        "{}",
        out.stderr
    );
    let out = steplab(&[vec!["run"], args(&["\"b,x"])].concat());
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("never closed"), "{}", out.stderr);
}
