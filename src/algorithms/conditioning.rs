//! Why gradient descent works, from the user's data: the curvature of the
//! loss (L, μ), the condition number κ before and after standardization, the
//! stable learning rates η < 2/L, the best fixed step 2/(μ + L) and its rate.
//!
//! Only where the math holds: the numbers are exact for the quadratic loss of
//! linear regression; for the logistic loss only the bound L ≤ λmax(AᵀA)/(4n) + λ
//! is known, for softmax regression L ≤ λmax(AᵀA)/(2n) + λ, and nothing is
//! claimed about μ.

use crate::data::Dataset;
use crate::optim::OptimizerKind;
use nalgebra::{DMatrix, SymmetricEigen};

/// The step-size facts of one loss on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSizeCard {
    /// L: the largest eigenvalue of the Hessian (or its bound, when `exact` is false).
    pub l: f64,
    /// μ: the smallest eigenvalue, when the loss is strongly convex.
    pub mu: Option<f64>,
    /// κ = L/μ on the data as used.
    pub kappa: Option<f64>,
    /// κ on the raw features.
    pub kappa_raw: Option<f64>,
    /// κ on the standardized features.
    pub kappa_standardized: Option<f64>,
    /// 2/L: gradient descent is stable for η below this.
    pub stable_below: f64,
    /// 2/(μ + L): the best fixed learning rate.
    pub best_rate: Option<f64>,
    /// (κ − 1)/(κ + 1): the error shrinks by this factor per step at the best rate.
    pub contraction: Option<f64>,
    /// Whether L and μ are exact (quadratic loss) or L is a bound.
    pub exact: bool,
    /// Where L comes from, in one sentence.
    pub note: &'static str,
}

/// The card for `algorithm` (linear, logistic or softmax regression)
/// with L2 strength `l2`; `None` for algorithms where these facts do not hold.
#[must_use]
pub fn step_size_card(algorithm: &str, data: &Dataset, l2: f64) -> Option<StepSizeCard> {
    applies(algorithm).then(|| Curvature::of(data)?.card(algorithm, l2))?
}

/// Whether the card's 2/L bounds the rate of `optimizer`: plain gradient
/// descent's only (the others scale or accumulate the step).
#[must_use]
pub fn bounds_rate(optimizer: Option<OptimizerKind>) -> bool {
    optimizer == Some(OptimizerKind::Gd)
}

/// 2/L for `algorithm` on `data` with L2 strength `l2`, where it bounds
/// the rate of `optimizer` ([`bounds_rate`]).
#[must_use]
pub fn stable_below(
    algorithm: &str,
    data: &Dataset,
    l2: f64,
    optimizer: Option<OptimizerKind>,
) -> Option<f64> {
    bounds_rate(optimizer)
        .then(|| step_size_card(algorithm, data, l2))?
        .map(|c| c.stable_below)
}

/// Whether the card exists for `algorithm`.
#[must_use]
pub fn applies(algorithm: &str) -> bool {
    matches!(
        algorithm,
        "linear-regression" | "logistic-regression" | "softmax-regression"
    )
}

/// The second moments AᵀA/n (A = [X 1]) of one dataset, on the features as
/// used, in original units and standardized: everything the card needs from
/// the rows, computed in one pass so the card itself costs microseconds.
#[derive(Debug, Clone)]
pub struct Curvature {
    used: DMatrix<f64>,
    raw: DMatrix<f64>,
    standardized: Option<DMatrix<f64>>,
}

impl Curvature {
    /// Reads `data` twice (means, then centred cross-products for precision);
    /// `None` on data too wide for its matrices ([`super::check_square`]).
    #[must_use]
    pub fn of(data: &Dataset) -> Option<Self> {
        let d = data.n_features();
        super::check_square("the step-size card", d, d + 1, 5).ok()?;
        let (mean, cov) = super::pass::mean_and_covariance(data.x());
        let mean: Vec<f64> = mean.iter().copied().collect();
        let used = second_moments(&cov, &mean);
        // Original units: x_raw = s·x + m for standardized columns.
        let (raw_cov, raw_mean) = match data.scaling() {
            Some(scaling) => {
                let s: Vec<f64> = (0..d)
                    .map(|j| scaling.get(j).map_or(1.0, |c| c.std))
                    .collect();
                let raw_cov = DMatrix::from_fn(d, d, |j, k| cov[(j, k)] * s[j] * s[k]);
                let raw_mean = (0..d)
                    .map(|j| mean[j] * s[j] + scaling.get(j).map_or(0.0, |c| c.mean))
                    .collect();
                (raw_cov, raw_mean)
            }
            None => (cov.clone(), mean),
        };
        let std: Vec<f64> = (0..d).map(|j| raw_cov[(j, j)].max(0.0).sqrt()).collect();
        let constant = (0..d).any(|j| std[j] == 0.0 || std[j] <= 1e-12 * raw_mean[j].abs());
        let standardized = (!constant).then(|| {
            let c = DMatrix::from_fn(d, d, |j, k| raw_cov[(j, k)] / (std[j] * std[k]));
            second_moments(&c, &vec![0.0; d])
        });
        Some(Self {
            used,
            raw: second_moments(&raw_cov, &raw_mean),
            standardized,
        })
    }

    /// The card for `algorithm` with L2 strength `l2` (`None` where it does not apply).
    #[must_use]
    pub fn card(&self, algorithm: &str, l2: f64) -> Option<StepSizeCard> {
        let (scale, exact, note) = match algorithm {
            "linear-regression" => (
                1.0,
                true,
                "For this quadratic loss the Hessian is constant; its eigenvalues decide everything.",
            ),
            "logistic-regression" => (
                0.25,
                false,
                "For the logistic loss only a bound on the curvature is known: σ′ ≤ 1/4 gives L ≤ λmax(AᵀA)/(4n) + λ.",
            ),
            // Each row's Hessian is (diag p − ppᵀ) ⊗ aaᵀ, and the eigenvalues
            // of diag p − ppᵀ are at most 1/2 for any probabilities p.
            "softmax-regression" => (
                0.5,
                false,
                "For the cross-entropy only a bound on the curvature is known: diag(p) − ppᵀ has eigenvalues ≤ 1/2, so L ≤ λmax(AᵀA)/(2n) + λ.",
            ),
            _ => return None,
        };
        let (_, mu, l) = extremes(&self.used, scale, l2)?;
        let kappa_of =
            |g: &DMatrix<f64>| extremes(g, scale, l2).and_then(|(_, mu, l)| mu.map(|mu| l / mu));
        let mu = if exact { mu } else { None };
        let kappa = mu.map(|mu| l / mu);
        Some(StepSizeCard {
            l,
            mu,
            kappa,
            kappa_raw: if exact { kappa_of(&self.raw) } else { None },
            kappa_standardized: if exact {
                self.standardized.as_ref().and_then(kappa_of)
            } else {
                None
            },
            stable_below: 2.0 / l,
            best_rate: mu.map(|mu| 2.0 / (mu + l)),
            contraction: kappa.map(|k| (k - 1.0) / (k + 1.0)),
            exact,
            note,
        })
    }
}

/// AᵀA/n for A = [X 1] from the covariance C and the means m: [[C + mmᵀ, m], [mᵀ, 1]].
fn second_moments(cov: &DMatrix<f64>, mean: &[f64]) -> DMatrix<f64> {
    let d = mean.len();
    DMatrix::from_fn(d + 1, d + 1, |j, k| match (j < d, k < d) {
        (true, true) => cov[(j, k)] + mean[j] * mean[k],
        (true, false) => mean[j],
        (false, true) => mean[k],
        (false, false) => 1.0,
    })
}

/// (eigenvalues sorted ascending, μ if strongly convex, L) of scale·G + λD,
/// G = AᵀA/n, the bias (last coordinate) not regularized.
fn extremes(g: &DMatrix<f64>, scale: f64, l2: f64) -> Option<(Vec<f64>, Option<f64>, f64)> {
    let d = g.nrows().checked_sub(1)?;
    let mut h = g * scale;
    for j in 0..d {
        h[(j, j)] += l2;
    }
    let mut eig: Vec<f64> = SymmetricEigen::try_new(h, 1e-13, 10_000)?
        .eigenvalues
        .iter()
        .copied()
        .collect();
    eig.sort_by(f64::total_cmp);
    let l = *eig.last()?;
    let min = *eig.first()?;
    if !(l > 0.0 && l.is_finite()) {
        return None;
    }
    let mu = (min > 1e-12 * l).then_some(min);
    Some((eig, mu, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        // Two features on very different scales.
        let a: Vec<f64> = (0..50).map(|i| f64::from(i) * 100.0).collect();
        let b: Vec<f64> = (0..50).map(|i| f64::from((i * 7) % 11)).collect();
        let y: Vec<f64> = (0..50).map(f64::from).collect();
        Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap()
    }

    #[test]
    fn linear_card_matches_an_independent_eigen_decomposition() {
        let d = data();
        let card = step_size_card("linear-regression", &d, 0.0).unwrap();
        // Independently: the Hessian of J = 1/(2n)‖Aθ − y‖² is AᵀA/n.
        let n = 50.0;
        let a = d.x().clone().insert_column(2, 1.0);
        let h = a.transpose() * &a / n;
        let eig = h.symmetric_eigenvalues();
        let l = eig.max();
        let mu = eig.min();
        assert!((card.l - l).abs() < 1e-9 * l);
        assert!((card.mu.unwrap() - mu).abs() < 1e-6 * mu);
        assert!((card.stable_below - 2.0 / l).abs() < 1e-12);
        assert!((card.best_rate.unwrap() - 2.0 / (l + mu)).abs() < 1e-9 * 2.0 / (l + mu));
        let kappa = l / mu;
        assert!((card.contraction.unwrap() - (kappa - 1.0) / (kappa + 1.0)).abs() < 1e-9);
        // Standardizing removes the scale mismatch: κ drops by orders of magnitude.
        assert!(card.kappa_standardized.unwrap() * 1000.0 < card.kappa_raw.unwrap());
        assert!((card.kappa_raw.unwrap() - card.kappa.unwrap()).abs() < 1e-6 * kappa);
    }

    #[test]
    fn standardized_data_reports_the_same_raw_and_standardized_kappa() {
        use crate::data::{Selection, table::parse_table};
        use std::fmt::Write as _;
        let mut csv = String::from("a,b,y\n");
        for i in 0..50 {
            let _ = writeln!(csv, "{},{},{i}", i * 100, (i * 7) % 11);
        }
        let table = parse_table(csv.as_bytes(), "t.csv").unwrap();
        let sel = |standardize| Selection {
            target: Some("y".into()),
            standardize,
            ..Selection::default()
        };
        let raw = Dataset::from_table(&table, &sel(false)).unwrap();
        let std = Dataset::from_table(&table, &sel(true)).unwrap();
        let a = step_size_card("linear-regression", &raw, 0.0).unwrap();
        let b = step_size_card("linear-regression", &std, 0.0).unwrap();
        let close = |u: f64, v: f64| (u - v).abs() <= 1e-6 * v.abs();
        assert!(close(a.kappa_raw.unwrap(), b.kappa_raw.unwrap()));
        assert!(close(
            a.kappa_standardized.unwrap(),
            b.kappa_standardized.unwrap()
        ));
        // On standardized data the κ in use is the standardized one.
        assert!(close(b.kappa.unwrap(), b.kappa_standardized.unwrap()));
        // Independently: eigenvalues of [Z 1]ᵀ[Z 1]/n from the standardized matrix.
        let z = std.x().clone().insert_column(2, 1.0);
        let eig = (z.transpose() * &z / 50.0).symmetric_eigenvalues();
        assert!(close(b.kappa.unwrap(), eig.max() / eig.min()));
    }

    #[test]
    fn gradient_descent_at_the_best_rate_contracts_as_predicted() {
        use crate::algorithms::{Algorithm, Hyper, linear::LinearRegression};
        let a: Vec<f64> = (0..40).map(|i| f64::from(i % 9) - 4.0).collect();
        let b: Vec<f64> = (0..40).map(|i| f64::from((i * 5) % 7) - 3.0).collect();
        let y: Vec<f64> = a.iter().zip(&b).map(|(u, v)| 2.0 * u - v + 1.0).collect();
        let d = Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap();
        let card = step_size_card("linear-regression", &d, 0.0).unwrap();
        let mut alg = LinearRegression::new(&Hyper {
            learning_rate: card.best_rate,
            ..Hyper::default()
        })
        .unwrap();
        alg.reset(&d).unwrap();
        let exact = alg.reference(&d).unwrap().unwrap().params;
        let dist = |p: &[f64]| {
            p.iter()
                .zip(&exact)
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
                .sqrt()
        };
        let e0 = dist(&alg.params());
        for _ in 0..20 {
            alg.step(&d).unwrap();
        }
        let bound = card.contraction.unwrap().powi(20) * e0;
        assert!(
            dist(&alg.params()) <= bound * (1.0 + 1e-9) + 1e-12,
            "{} > {bound}",
            dist(&alg.params())
        );
    }

    #[test]
    fn logistic_card_is_only_a_bound_and_others_have_none() {
        let d = data();
        let card = step_size_card("logistic-regression", &d, 0.0).unwrap();
        assert!(!card.exact && card.mu.is_none() && card.best_rate.is_none());
        let lin = step_size_card("linear-regression", &d, 0.0).unwrap();
        assert!((card.l - lin.l / 4.0).abs() < 1e-9 * lin.l);
        let soft = step_size_card("softmax-regression", &d, 0.0).unwrap();
        assert!(!soft.exact && soft.mu.is_none());
        assert!((soft.l - lin.l / 2.0).abs() < 1e-9 * lin.l);
        assert!(step_size_card("k-means", &d, 0.0).is_none());
    }

    #[test]
    fn the_bound_is_given_for_plain_gradient_descent_only() {
        use crate::algorithms::{Hyper, entry};
        let d = data();
        let card = step_size_card("softmax-regression", &d, 0.0).unwrap();
        for kind in OptimizerKind::FIRST_ORDER {
            let algorithm = (entry("softmax-regression").unwrap().create)(&Hyper {
                optimizer: Some(*kind),
                ..Hyper::default()
            })
            .unwrap();
            let expected = (*kind == OptimizerKind::Gd).then_some(card.stable_below);
            assert_eq!(algorithm.stability_bound(&d), expected, "{kind:?}");
        }
    }

    #[test]
    fn below_the_softmax_bound_every_step_lowers_the_loss() {
        // An L-smooth objective falls at every gradient step with η < 2/L;
        // a bound smaller than the true L would let some step climb.
        use crate::algorithms::{Algorithm, Hyper, softmax::SoftmaxRegression};
        let mut rng = crate::rng::Rng::new(3);
        let n = 300;
        let cols: Vec<Vec<f64>> = (0..2)
            .map(|j| {
                (0..n)
                    .map(|i| rng.normal() + f64::from(u8::try_from((i + j) % 3).unwrap_or(0)))
                    .collect()
            })
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::try_from(i % 3).unwrap_or(0)))
            .collect();
        let d = Dataset::from_columns(&["a", "b"], &cols, Some(("y", y))).unwrap();
        for l2 in [0.0, 0.1] {
            let card = step_size_card("softmax-regression", &d, l2).unwrap();
            let mut s = SoftmaxRegression::new(&Hyper {
                learning_rate: Some(0.99 * card.stable_below),
                l2: Some(l2),
                ..Hyper::default()
            })
            .unwrap();
            let mut last = s.reset(&d).unwrap().loss;
            for _ in 0..200 {
                let loss = s.step(&d).unwrap().loss;
                assert!(loss <= last + 1e-12, "l2 {l2}: {loss} > {last}");
                last = loss;
            }
        }
    }
}
