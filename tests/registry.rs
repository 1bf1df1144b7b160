//! Registry-wide checks: every algorithm's record holds every symbol its
//! derivation shows, its formulas are well-formed LaTeX, and its runs are
//! reproducible and never silently non-finite.
#![allow(clippy::unwrap_used)]

use steplab::algorithms::{Hyper, REGISTRY, shown_symbols};
use steplab::data::Dataset;
use steplab::optim::OptimizerKind;
use steplab::rng::Rng;
use steplab::session::Session;

/// Two noisy blobs in 2-D with a 0/1 label.
fn blobs() -> Dataset {
    let mut rng = Rng::new(17);
    let (mut a, mut b, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..40 {
        let label = f64::from(u8::from(i % 2 == 1));
        a.push(rng.normal() * 0.7 + 2.0 * label);
        b.push(rng.normal() * 0.7 - 1.5 * label);
        y.push(label);
    }
    Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap()
}

fn hypers() -> Vec<Hyper> {
    let mut out = vec![Hyper::default()];
    for kind in [
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
        OptimizerKind::Newton,
    ] {
        out.push(Hyper {
            optimizer: Some(kind),
            learning_rate: Some(0.05),
            ..Hyper::default()
        });
    }
    out
}

#[test]
fn every_shown_symbol_is_in_the_record() {
    let data = blobs();
    for entry in REGISTRY {
        for hyper in hypers() {
            let Ok(algorithm) = (entry.create)(&hyper) else {
                continue; // This optimizer does not apply to this algorithm.
            };
            let derivation = algorithm.derivation();
            assert!(
                derivation.len() >= 3,
                "{}: a derivation has several steps",
                entry.id
            );
            let mut session =
                Session::new(algorithm, &data).unwrap_or_else(|e| panic!("{}: {e}", entry.id));
            for _ in 0..3 {
                session.step(&data);
            }
            let record = session.latest();
            assert!(
                record.step >= 1,
                "{} {:?}: no step was taken",
                entry.id,
                hyper.optimizer
            );
            for symbol in shown_symbols(&derivation) {
                assert!(
                    record.get(symbol).is_some(),
                    "{} ({:?}): the derivation shows '{}' but step {} does not record it",
                    entry.id,
                    hyper.optimizer,
                    symbol.id,
                    record.step
                );
            }
            assert!(
                record.loss.is_finite(),
                "{}: loss {}",
                entry.id,
                record.loss
            );
        }
    }
}

/// Occurrences of `\left` / `\right` as delimiters (not `\leftarrow`, `\rightarrow`).
fn delimiters(latex: &str, command: &str) -> usize {
    latex
        .match_indices(command)
        .filter(|(i, _)| !latex[i + command.len()..].starts_with(|c: char| c.is_ascii_alphabetic()))
        .count()
}

#[test]
fn formulas_are_balanced_latex() {
    for entry in REGISTRY {
        for hyper in hypers() {
            let Ok(algorithm) = (entry.create)(&hyper) else {
                continue;
            };
            for step in algorithm.derivation() {
                let mut depth = 0i32;
                let mut escaped = false;
                for c in step.latex.chars() {
                    match c {
                        '\\' => escaped = !escaped,
                        '{' if !escaped => depth += 1,
                        '}' if !escaped => depth -= 1,
                        _ => escaped = false,
                    }
                    if c != '\\' {
                        escaped = false;
                    }
                    assert!(
                        depth >= 0,
                        "{}: unbalanced braces in {}",
                        entry.id,
                        step.latex
                    );
                }
                assert_eq!(
                    depth, 0,
                    "{}: unbalanced braces in {}",
                    entry.id, step.latex
                );
                assert_eq!(
                    delimiters(step.latex, r"\left"),
                    delimiters(step.latex, r"\right"),
                    "{}: \\left without \\right in {}",
                    entry.id,
                    step.latex
                );
                assert!(
                    !step.title.is_empty() && step.sentence.ends_with('.'),
                    "{}: {:?}",
                    entry.id,
                    step.title
                );
            }
        }
    }
}

#[test]
fn runs_are_reproducible_and_records_replay_exactly() {
    let data = blobs();
    for entry in REGISTRY {
        let hyper = Hyper {
            seed: 5,
            ..Hyper::default()
        };
        let run = || {
            let mut s = Session::new((entry.create)(&hyper).unwrap(), &data).unwrap();
            s.run(&data, 40);
            s
        };
        let (a, b) = (run(), run());
        assert_eq!(a.history(), b.history(), "{}", entry.id);
        for t in [0, 1, a.step_count() / 2, a.step_count()] {
            let replayed = a.record_at(&data, t).unwrap();
            assert_eq!(replayed.step, t, "{}", entry.id);
            assert_eq!(
                replayed.loss.to_bits(),
                a.history()[t].loss.to_bits(),
                "{} step {t}",
                entry.id
            );
        }
        // A replay into the buffers of an earlier replayed record (as the
        // window's timeline does) gives the same record as one into new memory.
        let mut old = None;
        for t in [1, a.step_count() / 2, 1, a.step_count() - 1, 2] {
            let reusing = a.record_at_reusing(&data, t, old.take());
            assert_eq!(reusing, a.record_at(&data, t), "{} step {t}", entry.id);
            old = reusing;
        }
    }
}

/// Checkpoints are copies: a copy must continue exactly like the original,
/// even though copies leave behind what the original kept from its last pass.
#[test]
fn a_copy_continues_exactly_like_the_original() {
    let data = blobs();
    for entry in REGISTRY {
        let mut original = (entry.create)(&Hyper::default()).unwrap();
        original.reset(&data).unwrap();
        for _ in 0..2 {
            original.step(&data).unwrap();
        }
        let mut copy = original.boxed_clone();
        for t in 0..3 {
            let (a, b) = (original.step(&data).unwrap(), copy.step(&data).unwrap());
            assert_eq!(a, b, "{} step {t} after the copy", entry.id);
        }
    }
}

#[test]
fn the_loss_surface_is_there_when_the_loss_answers() {
    let data = blobs();
    for entry in REGISTRY {
        let algorithm = (entry.create)(&Hyper::default()).unwrap();
        let session = Session::new(algorithm, &data).unwrap();
        let alg = session.algorithm();
        let answers = alg.loss_at(&data, &session.history()[0].params).is_some();
        assert_eq!(alg.has_loss_surface(), answers, "{}", entry.id);
        if answers {
            assert_eq!(alg.loss_at(&data, &[]), None, "{}: wrong length", entry.id);
        }
    }
}

#[test]
fn classify_is_each_models_own_prediction() {
    let data = blobs();
    let n = data.n_rows();
    let labels: Vec<usize> = data.target().unwrap().class_ids.clone();
    for entry in REGISTRY {
        let hyper = Hyper {
            k: Some(2),
            ..Hyper::default()
        };
        let Ok(algorithm) = (entry.create)(&hyper) else {
            continue;
        };
        let mut session = Session::new(algorithm, &data).unwrap();
        session.run(&data, 40);
        let params = &session.history().last().unwrap().params;
        let record = session.latest();
        let predicted = session.algorithm().classify(data.x(), params);
        match entry.id {
            "linear-regression" | "pca" | "gmm" => assert!(predicted.is_none(), "{}", entry.id),
            "k-means" => {
                // Brute force: the nearest of the centroids in `params`.
                let d = data.n_features();
                let expected: Vec<usize> = (0..n)
                    .map(|i| {
                        let dist = |c: usize| -> f64 {
                            (0..d)
                                .map(|j| (data.x()[(i, j)] - params[c * d + j]).powi(2))
                                .sum()
                        };
                        usize::from(dist(1) < dist(0))
                    })
                    .collect();
                assert_eq!(predicted.unwrap(), expected);
            }
            id => {
                let predicted = predicted.unwrap_or_else(|| panic!("{id} classifies"));
                if id == "logistic-regression" {
                    let p = record.get_id("p").unwrap().as_slice();
                    let from_record: Vec<usize> = p.iter().map(|&v| usize::from(v > 0.5)).collect();
                    assert_eq!(predicted, from_record);
                }
                if id == "softmax-regression" {
                    let Some(steplab::algorithms::Value::Matrix(p)) =
                        record.get_id("probabilities")
                    else {
                        panic!("softmax records probabilities");
                    };
                    assert_eq!(predicted, steplab::algorithms::argmax_rows(p));
                }
                let right = predicted
                    .iter()
                    .zip(&labels)
                    .filter(|(a, b)| a == b)
                    .count();
                assert!(right * 10 >= n * 8, "{id}: {right}/{n} right");
            }
        }
    }
}

/// Two blobs like [`blobs`], with enough rows for every core and many row blocks.
fn many_blobs(n: usize) -> Dataset {
    let mut rng = Rng::new(23);
    let (mut a, mut b, mut c, mut y) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let label = f64::from(u8::from(i % 2 == 1));
        a.push(rng.normal() * 0.9 + 2.0 * label);
        b.push(rng.normal() * 0.9 - 1.5 * label);
        c.push(rng.normal() + 0.5 * label);
        y.push(label);
    }
    Dataset::from_columns(&["a", "b", "c"], &[a, b, c], Some(("y", y))).unwrap()
}

#[test]
fn a_run_without_per_row_values_steps_exactly_like_the_window() {
    // `steplab run` turns the per-row values off; the losses, parameters and
    // gradient norms must not change by a single bit.
    let data = many_blobs(70_001);
    for entry in REGISTRY {
        let runs: Vec<Session> = [true, false]
            .into_iter()
            .map(|keep| {
                let mut algorithm = (entry.create)(&Hyper::default()).unwrap();
                algorithm.keep_per_row(keep);
                let mut session = Session::new(algorithm, &data).unwrap();
                session.run(&data, 12);
                session
            })
            .collect();
        let (kept, lean) = (runs[0].history(), runs[1].history());
        assert_eq!(kept.len(), lean.len(), "{}", entry.id);
        for (a, b) in kept.iter().zip(lean) {
            assert_eq!(
                a.loss.to_bits(),
                b.loss.to_bits(),
                "{} step {}",
                entry.id,
                a.step
            );
            assert_eq!(a.params, b.params, "{} step {}", entry.id, a.step);
            assert_eq!(a.grad_norm, b.grad_norm, "{} step {}", entry.id, a.step);
        }
        let scalars = |s: &Session| {
            s.latest()
                .values
                .iter()
                .filter(|(_, v)| v.as_scalar().is_some())
                .map(|(k, v)| (*k, v.as_scalar().map(f64::to_bits)))
                .collect::<Vec<_>>()
        };
        assert_eq!(scalars(&runs[0]), scalars(&runs[1]), "{}", entry.id);
    }
}

#[test]
fn each_algorithm_runs_exactly_the_optimizers_it_offers() {
    let data = blobs();
    for entry in REGISTRY {
        assert_eq!(
            entry.reads(&Hyper::default()).optimizer,
            !entry.optimizers.is_empty(),
            "{}",
            entry.id
        );
        if entry.optimizers.is_empty() {
            continue;
        }
        for kind in OptimizerKind::ALL {
            let hyper = Hyper {
                optimizer: Some(kind),
                ..Hyper::default()
            };
            let offered = entry.optimizers.contains(&kind);
            let session = (entry.create)(&hyper)
                .map_err(|e| e.to_string())
                .and_then(|a| Session::new(a, &data).map_err(|e| e.to_string()));
            assert_eq!(session.is_ok(), offered, "{} {kind:?}", entry.id);
        }
        // The first is the one run when none is named.
        let default = Session::new((entry.create)(&Hyper::default()).unwrap(), &data).unwrap();
        let named = Hyper {
            optimizer: Some(entry.optimizers[0]),
            ..Hyper::default()
        };
        let named = Session::new((entry.create)(&named).unwrap(), &data).unwrap();
        assert_eq!(
            default.algorithm().derivation(),
            named.algorithm().derivation(),
            "{}",
            entry.id
        );
    }
}
