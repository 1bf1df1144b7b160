//! The CLI contract for every algorithm of the catalogue: JSON shapes, the
//! conventions of SPEC section 3, and the options of section 4.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn run(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_steplab"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(f).collect())
        .collect()
}

fn losses(j: &Value) -> Vec<f64> {
    j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| f(&s["loss"]))
        .collect()
}

fn blobs() -> String {
    fixture("three_blobs.csv")
}

/// The class means of the three blobs, in sorted label order.
fn class_means() -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(blobs()).unwrap();
    let mut sums = std::collections::BTreeMap::<String, (f64, f64, f64)>::new();
    for line in text.lines().skip(1) {
        let parts: Vec<&str> = line.split(',').collect();
        let e = sums.entry(parts[2].to_string()).or_default();
        e.0 += parts[0].parse::<f64>().unwrap();
        e.1 += parts[1].parse::<f64>().unwrap();
        e.2 += 1.0;
    }
    sums.values().map(|(a, b, n)| vec![a / n, b / n]).collect()
}

#[test]
fn softmax_regression_shape_classes_and_descent() {
    let j = run(&[
        "--algorithm",
        "softmax-regression",
        "--data",
        &blobs(),
        "--steps",
        "200",
        "--lr",
        "0.5",
    ]);
    assert_eq!(j["target"], "species");
    assert_eq!(j["features"], serde_json::json!(["x1", "x2"]));
    let p = &j["final"]["params"];
    assert_eq!(
        p["classes"],
        serde_json::json!(["setosa", "versicolor", "virginica"])
    );
    assert_eq!(
        matrix(&p["weights"])
            .iter()
            .map(Vec::len)
            .collect::<Vec<_>>(),
        vec![2, 2, 2]
    );
    assert_eq!(p["bias"].as_array().unwrap().len(), 3);
    // Step 0: zero parameters give uniform probabilities, J = ln 3.
    assert!((losses(&j)[0] - 3f64.ln()).abs() < 1e-12);
    let l = losses(&j);
    assert!(
        l.windows(2).all(|w| w[1] <= w[0] + 1e-12),
        "cross-entropy rose"
    );
    assert!(*l.last().unwrap() < 0.2);
    for opt in ["momentum", "nesterov", "adagrad", "rmsprop", "adam"] {
        let j = run(&[
            "--algorithm",
            "softmax-regression",
            "--data",
            &blobs(),
            "--steps",
            "50",
            "--optimizer",
            opt,
            "--lr",
            "0.05",
        ]);
        assert!(f(&j["final"]["loss"]) < 3f64.ln(), "{opt}");
    }
}

#[test]
fn perceptron_first_step_by_hand_and_convergence() {
    let data = fixture("separable.csv");
    let j = run(&[
        "--algorithm",
        "perceptron",
        "--data",
        &data,
        "--steps",
        "5000",
    ]);
    // Row 0 is (−1.1047, −0.2320) with label 0 → y = −1; at w = 0 the score 0 is a mistake:
    // w₁ = η y x = (1.1047, 0.2320), b₁ = −1.
    let s1 = &j["steps"][1]["params"];
    assert!(
        (f(&s1["weights"][0]) - 1.1047).abs() < 1e-12
            && (f(&s1["weights"][1]) - 0.232).abs() < 1e-12
    );
    assert!((f(&s1["bias"]) + 1.0).abs() < 1e-12);
    // Step 0 misclassifies everything (score 0); separable data converges to no mistakes.
    assert!((losses(&j)[0] - 1.0).abs() < 1e-12);
    assert_eq!(j["stopped"], "converged");
    assert!(f(&j["final"]["loss"]).abs() < 1e-15, "no mistakes left");
}

#[test]
fn linear_svm_pegasos_and_gd() {
    let data = fixture("separable.csv");
    let pegasos = run(&[
        "--algorithm",
        "linear-svm",
        "--data",
        &data,
        "--steps",
        "300",
        "--l2",
        "0.1",
    ]);
    assert_eq!(
        pegasos["final"]["params"]["weights"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(pegasos["final"]["params"]["bias"].is_f64());
    // Step 1 of Pegasos at w = 0: η₁ = 1/λ, every row violates the margin, so
    // w₁ = (1/λ)(1/n) Σ yᵢxᵢ: check the sign against the data (label 1 ⇒ a > 0).
    assert!(f(&pegasos["steps"][1]["params"]["weights"][0]) > 0.0);
    let gd = run(&[
        "--algorithm",
        "linear-svm",
        "--data",
        &data,
        "--steps",
        "300",
        "--l2",
        "0.1",
        "--optimizer",
        "gd",
        "--lr",
        "0.1",
    ]);
    assert!(f(&gd["final"]["loss"]) < f(&gd["steps"][0]["loss"]));
    // Both descend the same objective J(0) = 1 (every hinge term is 1 at w = 0).
    assert!((losses(&pegasos)[0] - 1.0).abs() < 1e-12);
    let batched = run(&[
        "--algorithm",
        "linear-svm",
        "--data",
        &data,
        "--steps",
        "50",
        "--batch-size",
        "8",
        "--seed",
        "3",
    ]);
    let again = run(&[
        "--algorithm",
        "linear-svm",
        "--data",
        &data,
        "--steps",
        "50",
        "--batch-size",
        "8",
        "--seed",
        "3",
    ]);
    assert_eq!(batched["final"], again["final"]);
}

#[test]
fn mlp_layers_shapes_and_learning() {
    let j = run(&[
        "--algorithm",
        "mlp",
        "--data",
        &blobs(),
        "--hidden",
        "4",
        "--activation",
        "relu",
        "--steps",
        "300",
        "--lr",
        "0.1",
        "--seed",
        "1",
    ]);
    let layers = j["final"]["params"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(matrix(&layers[0]["weights"]).len(), 4);
    assert_eq!(matrix(&layers[0]["weights"])[0].len(), 2);
    assert_eq!(matrix(&layers[1]["weights"]).len(), 3);
    assert_eq!(layers[1]["bias"].as_array().unwrap().len(), 3);
    assert!(f(&j["final"]["loss"]) < f(&j["steps"][0]["loss"]) * 0.5);
    let two = run(&[
        "--algorithm",
        "mlp",
        "--data",
        &fixture("regression3.csv"),
        "--hidden",
        "5,3",
        "--activation",
        "tanh",
        "--steps",
        "20",
    ]);
    let layers = two["final"]["params"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(matrix(&layers[0]["weights"])[0].len(), 3);
    assert_eq!(
        matrix(&layers[2]["weights"]).len(),
        1,
        "a numeric target gets one identity output"
    );
    // The same seed, run twice, gives the same steps.
    let seeded = [
        "--algorithm",
        "mlp",
        "--data",
        &blobs(),
        "--hidden",
        "3",
        "--steps",
        "5",
        "--seed",
        "9",
        "--activation",
        "sigmoid",
    ];
    assert_eq!(run(&seeded)["steps"], run(&seeded)["steps"]);
}

#[test]
fn k_means_from_init_rows_converges_to_the_blob_means() {
    let j = run(&[
        "--algorithm",
        "k-means",
        "--data",
        &blobs(),
        "--k",
        "3",
        "--init-rows",
        "0,1,2",
    ]);
    assert_eq!(j["features"], serde_json::json!(["x1", "x2"]));
    assert_eq!(j["stopped"], "converged");
    // Step 0 holds the initial centroids: rows 0, 1, 2 of the data.
    let c0 = matrix(&j["steps"][0]["params"]["centroids"]);
    assert!((c0[0][0] - 0.0245).abs() < 1e-12 && (c0[1][0] - 4.7235).abs() < 1e-12);
    let l = losses(&j);
    assert!(
        l.windows(2).all(|w| w[1] <= w[0] + 1e-12),
        "inertia rose: {l:?}"
    );
    // Rows 0, 1, 2 are setosa, versicolor, virginica: the centroids end on those class means.
    let c = matrix(&j["final"]["params"]["centroids"]);
    for (got, want) in c.iter().zip(class_means()) {
        assert!(
            (got[0] - want[0]).abs() < 1e-9 && (got[1] - want[1]).abs() < 1e-9,
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn pca_components_are_unit_orthogonal_and_sign_normalized() {
    let j = run(&[
        "--algorithm",
        "pca",
        "--data",
        &fixture("regression3.csv"),
        "--components",
        "2",
        "--steps",
        "2000",
    ]);
    assert_eq!(j["features"].as_array().unwrap().len(), 4);
    assert_eq!(j["stopped"], "converged");
    let c = matrix(&j["final"]["params"]["components"]);
    assert_eq!(c.len(), 2);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!((dot(&c[0], &c[0]) - 1.0).abs() < 1e-9 && (dot(&c[1], &c[1]) - 1.0).abs() < 1e-9);
    assert!(dot(&c[0], &c[1]).abs() < 1e-6);
    for v in &c {
        let big = v
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        assert!(big > 0.0, "largest-magnitude entry must be positive: {v:?}");
    }
    let r: Vec<f64> = j["final"]["params"]["explained_variance_ratio"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    assert!(r[0] >= r[1] && r[0] + r[1] <= 1.0 + 1e-12 && r[1] > 0.0);
    let l = losses(&j);
    assert!(*l.last().unwrap() >= -1e-9 && *l.last().unwrap() < l[0]);
}

#[test]
fn gmm_em_never_lowers_the_likelihood() {
    let j = run(&[
        "--algorithm",
        "gmm",
        "--data",
        &blobs(),
        "--k",
        "3",
        "--init-rows",
        "0,1,2",
        "--steps",
        "200",
    ]);
    let p = &j["final"]["params"];
    let w: Vec<f64> = p["weights"].as_array().unwrap().iter().map(f).collect();
    assert_eq!(w.len(), 3);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(matrix(&p["means"]).len(), 3);
    for cov in p["covariances"].as_array().unwrap() {
        let m = matrix(cov);
        assert_eq!(m.len(), 2);
        assert!((m[0][1] - m[1][0]).abs() < 1e-12 && m[0][0] > 0.0 && m[1][1] > 0.0);
    }
    let l = losses(&j);
    assert!(
        l.windows(2).all(|w| w[1] <= w[0] + 1e-9),
        "negative log-likelihood rose"
    );
    for (got, want) in matrix(&p["means"]).iter().zip(class_means()) {
        assert!(
            (got[0] - want[0]).abs() < 0.3 && (got[1] - want[1]).abs() < 0.3,
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn every_gradient_option_is_accepted_and_matters() {
    let data = fixture("regression3.csv");
    let base = [
        "--algorithm",
        "linear-regression",
        "--data",
        data.as_str(),
        "--steps",
        "30",
        "--standardize",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        run(&a)["final"]["params"].clone()
    };
    let plain = with(&[]);
    for extra in [
        &["--lr", "0.05"][..],
        &["--optimizer", "momentum", "--momentum", "0.5"],
        &["--optimizer", "adam", "--beta1", "0.8", "--beta2", "0.99"],
        &["--optimizer", "rmsprop", "--beta2", "0.5"],
        &["--l2", "0.5"],
        &["--l1", "0.5"],
        &["--batch-size", "10", "--seed", "4"],
    ] {
        assert_ne!(with(extra), plain, "{extra:?} changed nothing");
    }
    // --target and --features with an unsupervised algorithm, and --missing.
    let j = run(&[
        "--algorithm",
        "k-means",
        "--data",
        &fixture("missing.csv"),
        "--k",
        "2",
        "--missing",
        "drop",
        "--features",
        "x1,x2",
    ]);
    assert_eq!(j["rows"], 3);
    assert_eq!(j["target"], Value::Null);
}
