//! The note that a run ignores an option is true: for every algorithm and
//! option the CLI calls ignored, the run's JSON is the same with or without it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use steplab::cli::{RunArgs, ignored_options, run_json};

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/examples")
        .join(name)
}

/// Each option with a value other than its default.
fn with(args: &RunArgs, option: &str) -> RunArgs {
    let mut a = args.clone();
    match option {
        "--optimizer" => a.optimizer = Some("gd".into()),
        "--lr" => a.lr = Some(0.05),
        "--momentum" => a.momentum = Some(0.5),
        "--beta1" => a.beta1 = Some(0.8),
        "--beta2" => a.beta2 = Some(0.9),
        "--batch-size" => a.batch_size = Some(7),
        "--seed" => a.seed = 3,
        "--l2" => a.l2 = Some(0.1),
        "--l1" => a.l1 = Some(0.01),
        "--k" => a.k = Some(2),
        "--init-rows" => a.init_rows = Some(vec![0, 1]),
        "--components" => a.components = Some(1),
        "--hidden" => a.hidden = Some(vec![3]),
        "--activation" => a.activation = Some("relu".into()),
        _ => unreachable!("{option}"),
    }
    a
}

const OPTIONS: [&str; 14] = [
    "--optimizer",
    "--lr",
    "--momentum",
    "--beta1",
    "--beta2",
    "--batch-size",
    "--seed",
    "--l2",
    "--l1",
    "--k",
    "--init-rows",
    "--components",
    "--hidden",
    "--activation",
];

#[test]
fn options_called_ignored_change_nothing() {
    let mut checked = 0;
    for entry in steplab::algorithms::REGISTRY {
        let data = match entry.id {
            "linear-regression" => "houses.csv",
            "k-means" | "pca" | "gmm" => "blobs.csv",
            _ => "exam_pass.csv",
        };
        let optimizers: &[Option<&str>] = match entry.id {
            "logistic-regression" => &[None, Some("newton"), Some("adam")],
            "linear-svm" => &[None, Some("momentum")],
            "linear-regression" | "softmax-regression" | "mlp" => &[None, Some("rmsprop")],
            _ => &[None],
        };
        for optimizer in optimizers {
            let base = RunArgs {
                algorithm: entry.id.into(),
                data: example(data),
                standardize: true,
                steps: 4,
                every: 1,
                missing: "error".into(),
                optimizer: optimizer.map(Into::into),
                ..RunArgs::default()
            };
            let plain = serde_json::to_value(run_json(&base).unwrap()).unwrap();
            for option in OPTIONS {
                let changed = with(&base, option);
                if !ignored_options(entry, &changed).contains(&option) {
                    continue;
                }
                let json = serde_json::to_value(run_json(&changed).unwrap()).unwrap();
                assert_eq!(
                    json["steps"], plain["steps"],
                    "{} ({optimizer:?}) is said to ignore {option}",
                    entry.id
                );
                checked += 1;
            }
        }
    }
    // The table says something: options are ignored somewhere.
    assert!(checked > 40, "{checked}");
}
