//! `pca`: principal components by power iteration with deflation, one
//! multiplication by the covariance per step; Oja's rule as the stochastic view.

use super::linear::J;
use super::{AlgoError, Algorithm, DerivationStep, Entry, Hyper, StepRecord, Symbol, Value};
use crate::data::Dataset;
use crate::optim::ETA;
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector};

/// A component is done when an iteration moves it less than this.
pub const TOLERANCE: f64 = 1e-10;

/// Below this fraction of the total variance, ‖S w‖ on the deflated S is
/// rounding left over from the deflation, not variance: the directions
/// orthogonal to the finished components have none (rank-deficient data),
/// and any of them is a component with eigenvalue 0.
const NO_VARIANCE: f64 = 1e-12;

/// S: the covariance matrix (population, divided by n).
pub const COVARIANCE: Symbol = Symbol {
    id: "covariance",
    latex: "S",
    meaning: "covariance matrix of the centred features (divided by n)",
};
/// w: the current component's iterate.
pub const W_PC: Symbol = Symbol {
    id: "w_pc",
    latex: r"\mathbf{w}",
    meaning: "current estimate of the component being found",
};
/// S w before normalization.
pub const SW: Symbol = Symbol {
    id: "s_w",
    latex: r"S\mathbf{w}",
    meaning: "the deflated covariance times the previous iterate",
};
/// ‖S w‖.
pub const NORM: Symbol = Symbol {
    id: "norm",
    latex: r"\|S\mathbf{w}\|",
    meaning: "length of S w, the normalizer",
};
/// λ = wᵀ S w: the Rayleigh quotient.
pub const EIGENVALUE: Symbol = Symbol {
    id: "eigenvalue",
    latex: r"\lambda",
    meaning: "variance along w (Rayleigh quotient wᵀSw)",
};
/// ‖w_t − w_{t−1}‖.
pub const DELTA: Symbol = Symbol {
    id: "delta",
    latex: r"\|\mathbf{w}_t - \mathbf{w}_{t-1}\|",
    meaning: "how far this iteration moved the component",
};
/// The index of the component being found (0-based).
pub const COMPONENT: Symbol = Symbol {
    id: "component",
    latex: "j",
    meaning: "which component is being found (0-based)",
};
/// All components (m × d).
pub const COMPONENTS: Symbol = Symbol {
    id: "components",
    latex: r"W",
    meaning: "the components, one row each (finished ones, the current iterate, and initial vectors)",
};
/// Explained variance ratios.
pub const RATIO: Symbol = Symbol {
    id: "explained_variance_ratio",
    latex: r"\frac{\lambda_j}{\operatorname{tr} S}",
    meaning: "fraction of the total variance along each component",
};
/// x̄: the feature means (the centre of the axes).
pub const MEAN: Symbol = Symbol {
    id: "mean",
    latex: r"\bar{\mathbf{x}}",
    meaning: "mean of each feature, where the principal axes start",
};
/// One step of Oja's rule from the current iterate on this step's row.
pub const OJA: Symbol = Symbol {
    id: "oja",
    latex: r"\mathbf{w}_{\text{Oja}}",
    meaning: "the iterate after one step of Oja's rule on this step's row",
};

const STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Center and covariance",
        sentence: "Subtract each feature's mean; the covariance matrix holds the variance along every direction.",
        latex: r"S = \frac{1}{n} \sum_{i=1}^{n} (\mathbf{x}_i - \bar{\mathbf{x}})(\mathbf{x}_i - \bar{\mathbf{x}})^\top",
        shows: &[COVARIANCE, MEAN],
    },
    DerivationStep {
        title: "Objective",
        sentence: "The first principal component is the unit direction along which the projected data varies most.",
        latex: r"\max_{\mathbf{w}} \; \mathbf{w}^\top S \mathbf{w} \quad \text{subject to} \quad \|\mathbf{w}\| = 1",
        shows: &[EIGENVALUE],
    },
    DerivationStep {
        title: "Lagrange condition",
        sentence: "Setting the gradient of the Lagrangian to zero shows the best directions are eigenvectors, and the variance is the eigenvalue.",
        latex: r"\nabla_{\mathbf{w}} \left[ \mathbf{w}^\top S \mathbf{w} - \lambda (\mathbf{w}^\top \mathbf{w} - 1) \right] = 2 S \mathbf{w} - 2 \lambda \mathbf{w} = 0 \;\Rightarrow\; S \mathbf{w} = \lambda \mathbf{w}",
        shows: &[EIGENVALUE],
    },
    DerivationStep {
        title: "Power iteration",
        sentence: "Multiplying by S (deflated by the components already found) stretches its top eigenvector most, so repeated multiplication and normalization converges to it, with the error shrinking like (λ₂/λ₁)ᵗ when λ₁ > λ₂ and the start is not orthogonal to it (sign chosen so the largest entry is positive).",
        latex: r"\mathbf{w}_t = \frac{S \mathbf{w}_{t-1}}{\|S \mathbf{w}_{t-1}\|}",
        shows: &[W_PC, SW, NORM, DELTA, COMPONENT],
    },
    DerivationStep {
        title: "Deflation",
        sentence: "Once a component stops moving, remove its variance from S; the next power iteration then finds the next component. Each iterate is also kept orthogonal to the finished components, which removes what rounding leaves of them in S; when no variance is left beside them, any direction orthogonal to them is a component with eigenvalue 0.",
        latex: r"S \leftarrow S - \lambda_j \mathbf{w}_j \mathbf{w}_j^\top, \qquad \lambda_j = \mathbf{w}_j^\top S \mathbf{w}_j",
        shows: &[COMPONENTS, RATIO],
    },
    DerivationStep {
        title: "Loss",
        sentence: "Track the variance that the finished components and the current iterate j leave unexplained (S here is the covariance of the first step, before any deflation).",
        latex: r"J = \operatorname{tr} S - \sum_{l \le j} \mathbf{w}_l^\top S \mathbf{w}_l",
        shows: &[J],
    },
    DerivationStep {
        title: "Oja's rule (the stochastic view)",
        sentence: "Using one centered row at a time (row t − 1, cycling) instead of S gives Oja's rule, a Hebbian update that converges to the same component; for later components the row first loses its projections on the finished ones (Sanger's rule). Shown: one such step from the previous iterate.",
        latex: r"\tilde{\mathbf{x}} = \Big(I - \sum_{l < j} \mathbf{w}_l \mathbf{w}_l^\top\Big)(\mathbf{x}_i - \bar{\mathbf{x}}), \quad y = \mathbf{w}_{t-1}^\top \tilde{\mathbf{x}}, \quad \mathbf{w}_{\text{Oja}} = \mathbf{w}_{t-1} + \eta \, y \, (\tilde{\mathbf{x}} - y \, \mathbf{w}_{t-1})",
        shows: &[OJA, ETA],
    },
];

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "pca",
    summary: "principal components by power iteration with deflation (and Oja's rule as the stochastic view)",
    supervised: false,
    classifies: false,
    create: |h| Ok(Box::new(Pca::new(h)?)),
    optimizers: &[],
    default_l2: 0.0,
    default_k: 0,
};

/// The number of components found when none is asked for (at most the
/// number of features).
pub const DEFAULT_COMPONENTS: usize = 2;

/// Power iteration with deflation.
#[derive(Debug, Clone)]
pub struct Pca {
    requested: Option<usize>,
    seed: u64,
    oja_rate: f64,
    s: DMatrix<f64>,
    mean: DVector<f64>,
    total: f64,
    components: Vec<DVector<f64>>,
    eigenvalues: Vec<f64>,
    current: usize,
    t: usize,
    features: Vec<String>,
}

impl Pca {
    /// Builds it (components default to min(2, d); Oja's η to 0.01).
    ///
    /// # Errors
    /// Zero components requested.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        if hyper.components == Some(0) {
            return Err(AlgoError::Invalid("--components must be at least 1".into()));
        }
        Ok(Self {
            requested: hyper.components,
            seed: hyper.seed,
            oja_rate: hyper.learning_rate.unwrap_or(0.01),
            s: DMatrix::zeros(0, 0),
            mean: DVector::zeros(0),
            total: 0.0,
            components: Vec::new(),
            eigenvalues: Vec::new(),
            current: 0,
            t: 0,
            features: Vec::new(),
        })
    }

    fn m(&self) -> usize {
        self.components.len()
    }

    /// S minus the finished components' variance.
    fn deflated(&self) -> DMatrix<f64> {
        let mut s = self.s.clone();
        for (w, &l) in self.components.iter().zip(&self.eigenvalues) {
            s -= w * w.transpose() * l;
        }
        s
    }

    /// wᵀ S w, at least 0 (S is positive semi-definite; rounding is not).
    fn rayleigh(&self, w: &DVector<f64>) -> f64 {
        (w.transpose() * &self.s * w)[(0, 0)].max(0.0)
    }

    fn ratios(&self) -> Vec<f64> {
        self.components
            .iter()
            .map(|w| (self.rayleigh(w) / self.total).min(1.0))
            .collect()
    }

    /// The variance the components up to the current one leave out: at
    /// least 0, since they are orthonormal.
    fn loss(&self) -> f64 {
        let upto = (self.current + 1).min(self.m());
        let explained: f64 = self.components[..upto]
            .iter()
            .map(|w| self.rayleigh(w))
            .sum();
        (self.total - explained).max(0.0)
    }

    /// Makes the components after `j` orthonormal to those before them, in
    /// order, so that every component shown is orthogonal to the others and
    /// their ratios add up to at most 1.
    fn orthonormalize_after(&mut self, j: usize) {
        for l in j + 1..self.m() {
            let (before, rest) = self.components.split_at_mut(l);
            if let Some(w) = orthonormalize(rest[0].clone(), before).or_else(|| complete(before)) {
                rest[0] = w;
            }
        }
    }

    fn record(&self) -> StepRecord {
        let loss = self.loss();
        let mut rec = StepRecord::new(self.t, loss);
        rec.scalar(J, loss);
        rec.set(COVARIANCE, Value::Matrix(self.s.clone()));
        rec.vector(MEAN, self.mean.as_slice());
        let d = self.s.nrows();
        let rows = DMatrix::from_fn(self.m(), d, |r, c| self.components[r][c]);
        rec.set(COMPONENTS, Value::Matrix(rows));
        rec.vector(RATIO, self.ratios());
        let j = self.current.min(self.m() - 1);
        rec.scalar(COMPONENT, j as f64);
        rec.vector(W_PC, self.components[j].as_slice());
        rec.scalar(EIGENVALUE, self.rayleigh(&self.components[j]));
        rec
    }
}

/// Flips `w` so that its largest-magnitude entry is positive.
pub fn sign_normalize(w: &mut DVector<f64>) {
    let big = w
        .iter()
        .copied()
        .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
    if big < 0.0 {
        w.neg_mut();
    }
}

/// Removes from `w` (of length about 1) its projection on each of the
/// orthonormal `basis` and normalizes (`None` if nothing is left).
fn orthonormalize(mut w: DVector<f64>, basis: &[DVector<f64>]) -> Option<DVector<f64>> {
    for b in basis {
        let p = w.dot(b);
        w -= b * p;
    }
    let mut w = w.try_normalize(1e-12)?;
    sign_normalize(&mut w);
    Some(w)
}

/// A unit vector orthogonal to the orthonormal `basis`: the first axis that
/// is not in its span, made orthogonal to it (`None` if it spans them all).
fn complete(basis: &[DVector<f64>]) -> Option<DVector<f64>> {
    let d = basis.first()?.len();
    (0..d).find_map(|k| {
        orthonormalize(
            DVector::from_fn(d, |i, _| f64::from(u8::from(i == k))),
            basis,
        )
    })
}

impl Algorithm for Pca {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        STEPS.to_vec()
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let x = data.x();
        let d = x.ncols();
        let m = self.requested.unwrap_or(DEFAULT_COMPONENTS.min(d));
        if m > d {
            return Err(AlgoError::Invalid(format!(
                "--components is {m}, but the data has only {d} feature{}",
                if d == 1 { "" } else { "s" }
            )));
        }
        super::check_square(ENTRY.id, d, d, 1)?;
        (self.mean, self.s) = super::pass::mean_and_covariance(x);
        self.total = self.s.trace();
        if !self.total.is_finite() {
            return Err(AlgoError::Invalid(
                "the features' variance is too large to compute (values beyond about 1e154); standardize them".into(),
            ));
        }
        if self.total <= 0.0 {
            return Err(AlgoError::Invalid(
                "the features have no variance, so there are no principal components".into(),
            ));
        }
        // Seeded random starting vectors, made orthonormal to each other.
        let mut rng = Rng::new(self.seed);
        self.components.clear();
        while self.components.len() < m {
            let v = DVector::from_fn(d, |_, _| rng.normal());
            if let Some(w) = orthonormalize(v, &self.components) {
                self.components.push(w);
            }
        }
        self.eigenvalues.clear();
        self.current = 0;
        self.t = 0;
        self.features = data.feature_names().to_vec();
        Ok(self.record())
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let j = self.current.min(self.m() - 1);
        let s = self.deflated();
        let old = self.components[j].clone();
        let sw = &s * &old;
        let norm = sw.norm();
        // S w / ‖S w‖, kept orthogonal to the finished components (`old`
        // already is); `None` when no variance is left beside them.
        let new = (norm > NO_VARIANCE * self.total)
            .then(|| orthonormalize(&sw / norm, &self.components[..j]))
            .flatten();
        let spent = new.is_none();
        let new = new.unwrap_or_else(|| old.clone());
        let delta = (&new - &old).norm();
        // Oja's rule on this step's row, from the previous iterate.
        let x = data.x();
        let i = self.t % x.nrows();
        let mut xi = DVector::from_iterator(
            x.ncols(),
            x.row(i).iter().zip(self.mean.iter()).map(|(v, m)| v - m),
        );
        // Sanger: without the finished components' share of the row.
        for w in &self.components[..j] {
            let p = w.dot(&xi);
            xi -= w * p;
        }
        let y = old.dot(&xi);
        let oja = &old + (&xi - &old * y) * (self.oja_rate * y);
        self.components[j] = new;
        self.t += 1;
        self.orthonormalize_after(j);
        let mut finished = false;
        if delta < TOLERANCE || spent {
            self.eigenvalues.push(self.rayleigh(&self.components[j]));
            self.current += 1;
            finished = self.current >= self.m();
        }
        let mut rec = self.record();
        // The record shows the multiplication of this step.
        rec.scalar(COMPONENT, j as f64);
        rec.vector(W_PC, self.components[j].as_slice());
        rec.scalar(EIGENVALUE, self.rayleigh(&self.components[j]));
        rec.vector(SW, sw.as_slice());
        rec.scalar(NORM, norm);
        rec.scalar(DELTA, delta);
        rec.vector(OJA, oja.as_slice());
        rec.scalar(ETA, self.oja_rate);
        if finished {
            rec.converged = true;
            rec.note = Some(match self.m() {
                1 => format!("converged: the component found at step {}", self.t),
                m => format!("converged: all {m} components found at step {}", self.t),
            });
        }
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        self.components
            .iter()
            .flat_map(|w| w.iter().copied())
            .chain(self.ratios())
            .collect()
    }

    fn param_names(&self) -> Vec<String> {
        let m = self.m();
        (0..m)
            .flat_map(|j| self.features.iter().map(move |f| format!("pc{j}[{f}]")))
            .chain((0..m).map(|j| format!("ratio{j}")))
            .collect()
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        let m = self.m();
        let d = self.s.nrows().max(1);
        let (comps, ratios) = flat.split_at((m * d).min(flat.len()));
        serde_json::json!({
            "components": comps.chunks(d).collect::<Vec<_>>(),
            "explained_variance_ratio": ratios,
        })
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::Hyper;

    fn data() -> Dataset {
        let mut rng = Rng::new(21);
        let a: Vec<f64> = (0..300).map(|_| rng.normal() * 3.0).collect();
        let b: Vec<f64> = a.iter().map(|v| 0.5 * v + rng.normal()).collect();
        let c: Vec<f64> = (0..300).map(|_| rng.normal() * 0.3).collect();
        let e: Vec<f64> = b
            .iter()
            .zip(&c)
            .map(|(u, v)| u - v + rng.normal() * 0.5)
            .collect();
        Dataset::from_columns(&["a", "b", "c", "e"], &[a, b, c, e], None).unwrap()
    }

    /// PCA for `components` components, reset on `d`.
    fn started(d: &Dataset, components: usize) -> Pca {
        let mut p = Pca::new(&Hyper {
            components: Some(components),
            ..Hyper::default()
        })
        .unwrap();
        p.reset(d).unwrap();
        p
    }

    fn run(components: usize) -> (Pca, Dataset) {
        let d = data();
        let mut p = started(&d, components);
        for _ in 0..20_000 {
            if p.step(&d).unwrap().converged {
                return (p, d);
            }
        }
        panic!("power iteration did not converge");
    }

    #[test]
    fn components_match_a_sorted_symmetric_eigen_decomposition() {
        let (p, _) = run(3);
        let eig = nalgebra::SymmetricEigen::new(p.s.clone());
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
        for (k, &idx) in order.iter().take(3).enumerate() {
            let mut v = eig.eigenvectors.column(idx).into_owned();
            sign_normalize(&mut v);
            let w = &p.components[k];
            assert!((w - &v).norm() < 1e-6, "component {k}: {w} vs {v}");
            assert!(
                (p.eigenvalues[k] - eig.eigenvalues[idx]).abs()
                    < 1e-9 * eig.eigenvalues[idx].abs().max(1.0)
            );
        }
        let ratios = p.ratios();
        assert!(
            ratios.windows(2).all(|r| r[0] >= r[1]) && ratios.iter().sum::<f64>() <= 1.0 + 1e-12
        );
    }

    #[test]
    fn components_are_orthonormal_and_sign_normalized() {
        let (p, _) = run(4);
        for (i, a) in p.components.iter().enumerate() {
            for (j, b) in p.components.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((a.dot(b) - want).abs() < 1e-8);
            }
            let big = a
                .iter()
                .copied()
                .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            assert!(big > 0.0);
        }
        // All four components explain all the variance.
        assert!(p.loss().abs() < 1e-8 * p.total);
    }

    fn orthonormal(p: &Pca, tol: f64) -> bool {
        p.components.iter().enumerate().all(|(i, a)| {
            p.components
                .iter()
                .enumerate()
                .all(|(j, b)| (a.dot(b) - if i == j { 1.0 } else { 0.0 }).abs() < tol)
        })
    }

    /// Steps to convergence on `columns`, checking at every step what must
    /// hold whether or not the components are found yet.
    fn run_on(columns: &[Vec<f64>], components: usize) -> Pca {
        let names: Vec<String> = (0..columns.len()).map(|j| format!("x{j}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let d = Dataset::from_columns(&names, columns, None).unwrap();
        let mut p = started(&d, components);
        for _ in 0..20_000 {
            let rec = p.step(&d).unwrap();
            assert!(orthonormal(&p, 1e-12), "{:?}", p.components);
            assert!(
                p.ratios().iter().sum::<f64>() <= 1.0 + 1e-12,
                "{:?}",
                p.ratios()
            );
            assert!(rec.loss >= 0.0);
            if rec.converged {
                return p;
            }
        }
        panic!("power iteration did not converge");
    }

    #[test]
    fn rank_deficient_data_gives_orthogonal_components_with_no_variance_left() {
        let mut rng = Rng::new(5);
        let a: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        let b: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        // Two copies of one column: all the variance on one axis.
        let p = run_on(&[a.clone(), a.clone()], 2);
        let ratios = p.ratios();
        assert!(
            (ratios[0] - 1.0).abs() < 1e-12 && ratios[1] < 1e-12,
            "{ratios:?}"
        );
        let half = std::f64::consts::FRAC_1_SQRT_2;
        assert!((&p.components[0] - DVector::from_vec(vec![half, half])).norm() < 1e-9);
        assert!(p.loss() < 1e-12 * p.total);
        // A third column in the span of the first two, then one a billion
        // times smaller than the first.
        let c: Vec<f64> = a.iter().zip(&b).map(|(u, v)| u + 2.0 * v).collect();
        for third in [c, a.iter().map(|v| v * 1e-9).collect()] {
            let p = run_on(&[a.clone(), b.clone(), third], 3);
            let eig = nalgebra::SymmetricEigen::new(p.s.clone());
            let smallest = eig.eigenvalues.min().max(0.0);
            assert!(p.ratios()[2] < 1e-12 && (p.ratios()[2] - smallest / p.total).abs() < 1e-15);
        }
    }

    #[test]
    fn components_not_found_yet_stay_orthogonal_to_the_others() {
        let d = data();
        let mut p = started(&d, 3);
        for _ in 0..3 {
            p.step(&d).unwrap();
            assert!(orthonormal(&p, 1e-12));
            assert!(
                p.ratios().iter().sum::<f64>() <= 1.0 + 1e-12,
                "{:?}",
                p.ratios()
            );
        }
    }

    #[test]
    fn ojas_view_of_a_later_component_stays_orthogonal_to_the_finished_ones() {
        let d = data();
        let mut p = started(&d, 2);
        let mut checked = 0;
        for _ in 0..20_000 {
            let before = p.current;
            let rec = p.step(&d).unwrap();
            if before == 1 {
                let Some(Value::Vector(oja)) = rec.get(OJA) else {
                    panic!("no Oja vector")
                };
                let oja = DVector::from_column_slice(oja);
                assert!(
                    oja.dot(&p.components[0]).abs() < 1e-12,
                    "{}",
                    oja.dot(&p.components[0])
                );
                checked += 1;
            }
            if rec.converged {
                break;
            }
        }
        assert!(checked > 0);
    }

    #[test]
    fn too_many_components_are_refused() {
        let d = data();
        let mut p = Pca::new(&Hyper {
            components: Some(5),
            ..Hyper::default()
        })
        .unwrap();
        assert!(
            p.reset(&d)
                .unwrap_err()
                .to_string()
                .contains("only 4 features")
        );
    }
}
