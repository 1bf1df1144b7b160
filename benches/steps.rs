//! Speed targets as ratios against baselines measured in the same run,
//! alternately with what they measure: loading a CSV against a bare read of
//! its bytes, and one step of each algorithm against a plain parallel read
//! pass over X.
//!
//! `STEPLAB_BENCH_ROWS` sets the number of rows (default 1,000,000 × 10 features).

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::{DMatrix, DMatrixView, Dyn};
use std::hint::black_box;
use std::time::{Duration, Instant};
use steplab::algorithms::{Hyper, entry};
use steplab::data::{Dataset, MissingPolicy, Selection};
use steplab::rng::Rng;
use steplab::session::Session;

const FEATURES: usize = 10;

fn rows() -> usize {
    std::env::var("STEPLAB_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// Whether a benchmark named `name` runs: criterion's own filter (the first
/// argument that is not an option, as in `cargo bench --bench steps --
/// logistic`), applied to the paired ratios as well.
fn selected(name: &str) -> bool {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .is_none_or(|filter| name.contains(&filter))
}

/// Whether the step figure `name` runs in either mode.
fn any_mode_selected(name: &str) -> bool {
    ["window", "run"]
        .iter()
        .any(|mode| selected(&format!("{name}/step-{mode}")))
}

/// What one comparison measured: the median wall times of the baseline and
/// of what it is compared to, and the median of the ratios of each pair.
struct Paired {
    baseline: Duration,
    measured: Duration,
    ratio: f64,
}

/// Times `baseline` and `measured` alternately, `runs` times each (after a
/// warm-up), so that both see the same state of a shared machine (its
/// memory bandwidth varies by 2× within minutes). The ratio is the median of
/// each pair's own ratio, taken back to back, rather than the ratio of the
/// medians of times that drift apart.
fn paired(runs: usize, mut baseline: impl FnMut(), mut measured: impl FnMut()) -> Paired {
    // Warmed up as criterion warms up, for at least half a second: a
    // single warm-up left the first window steps after generating the data
    // up to 1.3 times slower than criterion's own samples of them.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(500) {
        baseline();
        measured();
    }
    let mut pairs: Vec<(Duration, Duration)> = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        baseline();
        let b = t.elapsed();
        let t = Instant::now();
        measured();
        pairs.push((b, t.elapsed()));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let secs = |f: fn(&(Duration, Duration)) -> Duration| {
        Duration::from_secs_f64(median(pairs.iter().map(|p| f(p).as_secs_f64()).collect()))
    };
    Paired {
        baseline: secs(|p| p.0),
        measured: secs(|p| p.1),
        ratio: median(
            pairs
                .iter()
                .map(|(b, m)| m.as_secs_f64() / b.as_secs_f64())
                .collect(),
        ),
    }
}

fn report(name: &str, p: &Paired, baseline_name: &str, target: f64) {
    println!(
        "RATIO {name:<28} {:>9.3} ms  vs {baseline_name} {:>9.3} ms  = {:>6.2}×  (target ≤ {target}×){}",
        p.measured.as_secs_f64() * 1e3,
        p.baseline.as_secs_f64() * 1e3,
        p.ratio,
        if p.ratio <= target { "" } else { "  MISSED" }
    );
}

/// A plain parallel read pass over X: the memory-bandwidth floor of one step.
fn read_pass(x: &DMatrix<f64>) -> f64 {
    let data = x.as_slice();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = data.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(chunk)
            .map(|c| s.spawn(move || steplab::algorithms::pass::sum(c)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// n rows of standard normal features and a target from their weighted
/// sum s: s itself plus noise (`classes` 0), or that cut into `classes`
/// classes (2: s + noise > 0; 3: below −4, up to 4, above, about a third
/// each).
fn dataset(n: usize, classes: u8) -> Dataset {
    let mut rng = Rng::new(42);
    let columns: Vec<Vec<f64>> = (0..FEATURES)
        .map(|_| (0..n).map(|_| rng.normal()).collect())
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let s: f64 = columns
                .iter()
                .enumerate()
                .map(|(j, c)| c[i] * (j as f64 - 4.5))
                .sum();
            let noisy = s + rng.normal();
            match classes {
                0 => noisy,
                2 => f64::from(u8::from(noisy > 0.0)),
                _ => f64::from(u8::from(noisy > -4.0) + u8::from(noisy > 4.0)),
            }
        })
        .collect();
    let names: Vec<String> = (0..FEATURES).map(|j| format!("x{j}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Dataset::from_columns(&refs, &columns, Some(("y", y))).expect("generated data is valid")
}

fn steps(c: &mut Criterion) {
    let n = rows();
    println!(
        "rows: {n}, features: {FEATURES}, cores: {:?}",
        std::thread::available_parallelism()
    );
    let clusters = Hyper {
        k: Some(3),
        ..Hyper::default()
    };
    let mlp = Hyper {
        hidden: vec![8],
        ..Hyper::default()
    };
    // (name, algorithm, classes of the target (0: a number), settings)
    for (name, id, classes, hyper) in [
        (
            "linear-regression",
            "linear-regression",
            0,
            Hyper::default(),
        ),
        (
            "logistic-regression",
            "logistic-regression",
            2,
            Hyper::default(),
        ),
        (
            "softmax-regression",
            "softmax-regression",
            2,
            Hyper::default(),
        ),
        (
            "softmax-3-classes",
            "softmax-regression",
            3,
            Hyper::default(),
        ),
        ("linear-svm", "linear-svm", 2, Hyper::default()),
        ("k-means", "k-means", 0, clusters.clone()),
        ("pca", "pca", 0, Hyper::default()),
        ("gmm", "gmm", 0, clusters),
        ("mlp", "mlp", 2, mlp),
    ] {
        if !any_mode_selected(name) {
            continue;
        }
        let data = dataset(n, classes);
        step_figures(c, name, (id, &hyper), &data, ("read pass", 1.3, 41), || {
            black_box(read_pass(data.x()));
        });
    }
}

/// One step of `id` on `data`, timed against `baseline` (named `against`,
/// `pairs` alternating pairs) and then by criterion, in two modes: the
/// window keeps the per-row quantities the plots and the derivation show
/// (the first rows of those only the derivation shows); a headless run
/// (`steplab run`) keeps parameters and losses only.
fn step_figures(
    c: &mut Criterion,
    name: &str,
    (id, hyper): (&str, &Hyper),
    data: &Dataset,
    (against, target, pairs): (&str, f64, usize),
    mut baseline: impl FnMut(),
) {
    for (mode, keep) in [("window", true), ("run", false)] {
        if !selected(&format!("{name}/step-{mode}")) {
            continue;
        }
        let mut algorithm =
            (entry(id).expect("registered").create)(hyper).expect("valid hyperparameters");
        algorithm.keep_per_row(keep);
        algorithm.per_row_heads(Some(steplab::ui::HEAD_ROWS));
        let mut session = Session::new(algorithm, data).expect("data fits");
        let times = paired(pairs, &mut baseline, || {
            session.resume();
            black_box(session.step(data));
        });
        report(&format!("{name} step ({mode})"), &times, against, target);
        c.bench_function(&format!("{name}/step-{mode}"), |b| {
            b.iter(|| {
                session.resume();
                black_box(session.step(data))
            });
        });
    }
}

fn load(c: &mut Criterion) {
    let n = rows();
    if !selected("load/csv") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("steplab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.csv");
    {
        use std::io::Write as _;
        let mut rng = Rng::new(7);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
        let header: Vec<String> = (0..FEATURES)
            .map(|j| format!("x{j}"))
            .chain(["y".into()])
            .collect();
        writeln!(out, "{}", header.join(",")).expect("write");
        for _ in 0..n {
            // Shortest round-trip decimals, as pandas and most tools write
            // them: 1M rows come to about 210 MB, the file of issue 5.
            let row: Vec<String> = (0..=FEATURES)
                .map(|_| format!("{}", rng.normal()))
                .collect();
            writeln!(out, "{}", row.join(",")).expect("write");
        }
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!("csv: {} MB", size / 1_000_000);
    let selection = Selection {
        target: Some("y".into()),
        features: None,
        standardize: true,
        missing: MissingPolicy::Error,
    };
    let times = paired(
        7,
        || {
            let bytes = std::fs::read(&path).expect("read");
            black_box(bytes.iter().map(|&b| u64::from(b)).sum::<u64>());
        },
        || {
            black_box(Dataset::load(&path, &selection).expect("loads"));
        },
    );
    report("load + standardize", &times, "bare read", 2.0);
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("csv", |b| {
        b.iter(|| black_box(Dataset::load(&path, &selection).expect("loads")));
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A (64, 64) tanh network's matrix products on `rows` rows of X (rows ×
/// 10), as whole-matrix products by nalgebra (matrixmultiply's kernels),
/// half the rows on each core: what a step of the same network costs in a
/// numpy-style full-batch pass, less its activations and loss. Forward
/// H₁ = XW₁ᵀ, H₂ = H₁W₂ᵀ, o = H₂w₃; back D₂ = o w₃ (an outer product),
/// D₁ = D₂W₂; gradients oᵀH₂, D₂ᵀH₁, D₁ᵀX.
struct WideProducts {
    halves: Vec<[DMatrix<f64>; 6]>,
    w: [DMatrix<f64>; 3],
    wt: [DMatrix<f64>; 3],
    g: Vec<[DMatrix<f64>; 3]>,
}

impl WideProducts {
    fn new(x: &DMatrix<f64>, units: usize) -> Self {
        let (n, d) = x.shape();
        let half = n / 2;
        let mut rng = Rng::new(3);
        let mut random = |r: usize, c: usize| DMatrix::from_fn(r, c, |_, _| 0.1 * rng.normal());
        let w = [random(units, d), random(units, units), random(1, units)];
        let wt = [w[0].transpose(), w[1].transpose(), w[2].transpose()];
        let halves = [0, half]
            .iter()
            .map(|&start| {
                let rows = if start == 0 { half } else { n - half };
                [
                    x.rows(start, rows).into_owned(),
                    DMatrix::zeros(rows, units),
                    DMatrix::zeros(rows, units),
                    DMatrix::zeros(rows, 1),
                    DMatrix::zeros(rows, units),
                    DMatrix::zeros(rows, units),
                ]
            })
            .collect();
        let g = (0..2)
            .map(|_| {
                [
                    DMatrix::zeros(units, d),
                    DMatrix::zeros(units, units),
                    DMatrix::zeros(1, units),
                ]
            })
            .collect();
        Self { halves, w, wt, g }
    }

    fn run(&mut self) {
        let (w, wt) = (&self.w, &self.wt);
        std::thread::scope(|s| {
            for (m, g) in self.halves.iter_mut().zip(self.g.iter_mut()) {
                s.spawn(move || {
                    let [x, h1, h2, o, d2, d1] = m;
                    h1.gemm(1.0, &*x, &wt[0], 0.0);
                    h2.gemm(1.0, &*h1, &wt[1], 0.0);
                    o.gemm(1.0, &*h2, &wt[2], 0.0);
                    d2.gemm(1.0, &*o, &w[2], 0.0);
                    d1.gemm(1.0, &*d2, &w[1], 0.0);
                    g[2].gemm(1.0, &t(o), &*h2, 0.0);
                    g[1].gemm(1.0, &t(d2), &*h1, 0.0);
                    g[0].gemm(1.0, &t(d1), &*x, 0.0);
                });
            }
        });
        black_box(&self.g);
    }
}

/// Aᵀ as a view of A's storage: matrixmultiply takes any strides, where
/// nalgebra's `gemm_tr` is a loop of dot products.
fn t(a: &DMatrix<f64>) -> DMatrixView<'_, f64, Dyn, Dyn> {
    let (r, c) = a.shape();
    DMatrixView::from_slice_with_strides(a.as_slice(), c, r, r, 1)
}

/// A wide network, (64, 64) tanh units, on a fifth of the rows: its step
/// against the same matrix products done by a matrix library. The
/// benchmark MLP above has 8 units and is bound by its activations; this
/// one is bound by its products.
fn wide_mlp(c: &mut Criterion) {
    let name = "mlp-64-64";
    let n = rows() / 5;
    if !any_mode_selected(name) {
        return;
    }
    let data = dataset(n, 2);
    let hyper = Hyper {
        hidden: vec![64, 64],
        ..Hyper::default()
    };
    let mut products = WideProducts::new(data.x(), 64);
    println!("{name}: {n} rows");
    step_figures(c, name, ("mlp", &hyper), &data, ("GEMMs", 1.0, 11), || {
        products.run();
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    targets = steps, wide_mlp, load
}
criterion_main!(benches);
