//! The derivation panel and the window, measured against one frame at 60 fps
//! (16.7 ms): typesetting every formula of every algorithm cold and from the
//! cache, and the frame time of the real app (headless, its tessellation
//! included) at 1,000,000 points.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use steplab::algorithms::{Hyper, REGISTRY};
use steplab::ui::{App, Command, Settings};

const FRAME: f64 = 1.0 / 60.0;

fn formulas() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter_map(|e| (e.create)(&Hyper::default()).ok())
        .flat_map(|a| a.derivation().into_iter().map(|s| s.latex))
        .collect()
}

fn report(name: &str, seconds: f64) {
    println!(
        "RATIO {name:<44} {:>9.3} ms  vs one 60 fps frame 16.667 ms = {:>6.3}×",
        seconds * 1e3,
        seconds / FRAME
    );
}

fn typesetting(c: &mut Criterion) {
    let all = formulas();
    let t = Instant::now();
    for f in &all {
        black_box(steplab::math::render(f, 20.0, [0, 0, 0]).ok());
    }
    let cold = t.elapsed().as_secs_f64();
    println!(
        "{} formulas, {:.3} ms each on average",
        all.len(),
        cold * 1e3 / all.len() as f64
    );
    report("typeset every formula of every algorithm", cold);
    // One algorithm's panel, rendered once (the app then reuses the textures).
    let Some(linear) = REGISTRY
        .first()
        .and_then(|e| (e.create)(&Hyper::default()).ok())
    else {
        return;
    };
    let panel: Vec<&str> = linear.derivation().iter().map(|s| s.latex).collect();
    c.bench_function("typeset the linear-regression panel", |b| {
        b.iter(|| {
            for f in &panel {
                black_box(steplab::math::render(f, 20.0, [0, 0, 0]).ok());
            }
        });
    });
}

fn frames(c: &mut Criterion) {
    let n = std::env::var("STEPLAB_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000usize);
    let dir = std::env::temp_dir().join(format!("steplab-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("points.csv");
    {
        use std::io::Write as _;
        let mut rng = steplab::rng::Rng::new(3);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
        writeln!(out, "x1,x2,y").expect("write");
        for _ in 0..n {
            let (a, b) = (rng.normal(), rng.normal());
            // y a class: every algorithm can step on the file.
            let class = u8::from(2.0 * a - b + rng.normal() > 0.0);
            writeln!(out, "{a:.5},{b:.5},{class}").expect("write");
        }
    }
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(
            |ui, app: &mut App| app.frame_ui(ui),
            App::new(Settings::default()),
        );
    harness.state_mut().apply(Command::LoadFile(path.clone()));
    harness.state_mut().finish_loading();
    harness.run_steps(3);
    let mut time = |label: &str, step: bool| {
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            if step {
                harness.state_mut().apply(Command::Step(1));
            }
            frame(&mut harness);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        report(label, times[times.len() / 2]);
    };
    time(&format!("frame at {n} points, idle"), false);
    time(&format!("frame at {n} points, one step per frame"), true);
    idle_paced(&mut harness, n);
    rebuilding(&mut harness);
    c.bench_function("frame (idle)", |b| b.iter(|| frame(&mut harness)));
    // Every algorithm, stepping once a frame (its per-row record kept, as
    // in the window).
    for entry in REGISTRY {
        harness
            .state_mut()
            .apply(Command::SelectAlgorithm(entry.id.to_string()));
        // Built on a thread of its own at this size: not what is timed.
        harness.state_mut().finish_building();
        harness.run_steps(2);
        held_step(&mut harness, entry.id);
        running(&mut harness, entry.id);
        step_hundred(&mut harness, entry.id);
        timeline(&mut harness, entry.id);
    }
    let _ = std::fs::remove_dir_all(&dir);
    wide_model();
}

/// A wide model on small data at the fastest pace: an MLP (64, 64) on the
/// bundled penguins.csv at 1,000 steps/s, where what the frame draws of the
/// model (its decision regions over 14,400 cells) costs more than its steps.
fn wide_model() {
    let mut settings = Settings {
        algorithm: "mlp".into(),
        steps_per_second: 1000.0,
        ..Settings::default()
    };
    settings.hypers.insert(
        "mlp".into(),
        Hyper {
            hidden: vec![64, 64],
            ..Hyper::default()
        },
    );
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.frame_ui(ui), App::new(settings));
    harness.state_mut().apply(Command::LoadExample(2));
    harness.state_mut().finish_loading();
    harness
        .state_mut()
        .apply(Command::SelectAlgorithm("mlp".into()));
    harness.state_mut().finish_building();
    harness.run_steps(2);
    assert_eq!(harness.state().algorithm(), "mlp");
    running(
        &mut harness,
        "mlp (64, 64) on penguins.csv at 1,000 steps/s",
    );
}

/// The session's steps so far.
fn steps(h: &egui_kittest::Harness<App>) -> usize {
    h.state()
        .session()
        .map_or(0, steplab::session::Session::step_count)
}

/// One pass of the window's interface, and the tessellation of what it
/// drew into triangles, which eframe does on the CPU every frame before
/// the GPU draws them (the harness alone does not).
fn frame(harness: &mut egui_kittest::Harness<App>) {
    harness.step();
    let output = harness.output();
    black_box(
        harness
            .ctx
            .tessellate(output.shapes.clone(), output.pixels_per_point),
    );
}

/// One frame of the app as eframe runs it (its steps, then its drawing),
/// then the rest of a 60 fps frame, as with vsync: returns the frame's time.
fn paced_frame(harness: &mut egui_kittest::Harness<App>) -> f64 {
    let t = Instant::now();
    harness.state_mut().run_budget(FRAME);
    frame(harness);
    let took = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs_f64((FRAME - took).max(0.0)));
    took
}

/// Choices that rebuild the dataset and the session (standardization off
/// and on, another algorithm): the frames at 60 fps from the click until
/// the new session is drawn, which builds on a thread of its own.
fn rebuilding(harness: &mut egui_kittest::Harness<App>) {
    let mut frames = Vec::new();
    let mut landed = Vec::new();
    for command in [
        Command::SetStandardize(false),
        Command::SetStandardize(true),
        Command::SelectAlgorithm("k-means".into()),
        Command::SelectAlgorithm("logistic-regression".into()),
    ] {
        let started = Instant::now();
        harness.state_mut().apply(command);
        frames.push(paced_frame(harness));
        while harness.state().is_building() {
            frames.push(paced_frame(harness));
        }
        landed.push(started.elapsed().as_secs_f64());
    }
    frames.sort_by(f64::total_cmp);
    landed.sort_by(f64::total_cmp);
    let label = format!(
        "rebuilding (drawn after {:.0}–{:.0} ms, worst {:.1} ms)",
        landed[0] * 1e3,
        landed[landed.len() - 1] * 1e3,
        frames[frames.len() - 1] * 1e3
    );
    report(&label, frames[frames.len() / 2]);
}

/// A held Step key: a Step every frame for 12 frames at 60 fps (slow steps
/// join the ones out), then frames until the steps asked for are taken.
fn held_step(harness: &mut egui_kittest::Harness<App>, id: &str) {
    let (before, started) = (steps(harness), Instant::now());
    let mut frames = Vec::new();
    for _ in 0..12 {
        let t = Instant::now();
        harness.state_mut().apply(Command::Step(1));
        let applied = t.elapsed().as_secs_f64();
        frames.push(applied + paced_frame(harness));
    }
    while harness.state().steps_left() > 0 || harness.state().stepping_in_background() {
        paced_frame(harness);
    }
    let (took, done) = (started.elapsed().as_secs_f64(), steps(harness) - before);
    frames.sort_by(f64::total_cmp);
    let label = format!(
        "held Step, {id} ({done} steps in {took:.2} s, longest {:.1} ms)",
        frames[frames.len() - 1] * 1e3
    );
    report(&label, frames[frames.len() / 2]);
}

/// Running (Play): frames at 60 fps, slow steps in the background.
fn running(harness: &mut egui_kittest::Harness<App>, id: &str) {
    harness.state_mut().apply(Command::Reset);
    harness.state_mut().finish_building();
    harness.state_mut().apply(Command::ToggleRun);
    let (before, started) = (steps(harness), Instant::now());
    let mut frames = Vec::new();
    // Four seconds: a slow surface is due again every ten times its cost.
    for _ in 0..240 {
        frames.push(paced_frame(harness));
    }
    let rate = (steps(harness) - before) as f64 / started.elapsed().as_secs_f64();
    harness.state_mut().apply(Command::ToggleRun);
    report_paced(
        &format!("running, {id}"),
        &format!("{rate:.0} steps/s, "),
        frames,
    );
}

/// 240 frames at 60 fps with nothing running: how many frames this
/// machine takes over 16.7 ms by itself, the floor under `running`'s.
fn idle_paced(harness: &mut egui_kittest::Harness<App>, n: usize) {
    let frames = (0..240).map(|_| paced_frame(harness)).collect();
    report_paced(&format!("idle at 60 fps, {n} points"), "", frames);
}

/// Reports paced frames' median under `name`, with `detail`, their 90th
/// percentile, the longest and how many were over 16.7 ms.
fn report_paced(name: &str, detail: &str, mut frames: Vec<f64>) {
    frames.sort_by(f64::total_cmp);
    let worst = frames[frames.len() * 9 / 10];
    let over = frames.iter().filter(|&&t| t > FRAME).count();
    let label = format!(
        "{name} ({detail}90th {:.1} ms, longest {:.1} ms, {over} of {} over 16.7 ms)",
        worst * 1e3,
        frames[frames.len() - 1] * 1e3,
        frames.len()
    );
    report(&label, frames[frames.len() / 2]);
}

/// Dragging the timeline back over the steps taken, one position a frame
/// at 60 fps (slow steps' records replayed on their own thread): the
/// frames, and how many positions the record drawn lagged behind.
fn timeline(harness: &mut egui_kittest::Harness<App>, id: &str) {
    let latest = steps(harness);
    let mut frames = Vec::new();
    let mut behind = Vec::new();
    for t in (0..latest).rev() {
        // The command is applied in the frame, as the window does.
        let started = Instant::now();
        harness.state_mut().apply(Command::Show(t));
        let applied = started.elapsed().as_secs_f64();
        frames.push(applied + paced_frame(harness));
        let drawn = harness.state().shown_record().map_or(latest, |r| r.step);
        behind.push(drawn.abs_diff(t));
    }
    harness.state_mut().apply(Command::Show(latest));
    if frames.is_empty() {
        return;
    }
    frames.sort_by(f64::total_cmp);
    behind.sort_unstable();
    let label = format!(
        "timeline, {id} (record behind by {} positions, at most {}; longest {:.1} ms)",
        behind[behind.len() / 2],
        behind[behind.len() - 1],
        frames[frames.len() - 1] * 1e3
    );
    report(&label, frames[frames.len() / 2]);
}

/// Step ×100: its first step in the frame, the rest over later frames at
/// 60 fps (in the frame while the budget lasts, slow ones in the background).
fn step_hundred(harness: &mut egui_kittest::Harness<App>, id: &str) {
    harness.state_mut().apply(Command::Reset);
    harness.state_mut().finish_building();
    // The frames that redraw the reset session are not the Step's.
    harness.run_steps(2);
    let (before, started) = (steps(harness), Instant::now());
    let mut frames = Vec::new();
    let t = Instant::now();
    harness.state_mut().apply(Command::Step(100));
    frame(harness);
    frames.push(t.elapsed().as_secs_f64());
    while harness.state().steps_left() > 0 || harness.state().stepping_in_background() {
        frames.push(paced_frame(harness));
    }
    let (took, done) = (started.elapsed().as_secs_f64(), steps(harness) - before);
    let first = frames[0];
    frames.sort_by(f64::total_cmp);
    let label = format!(
        "Step ×100, {id} ({done} steps in {took:.2} s, first frame {:.1} ms, longest {:.1} ms)",
        first * 1e3,
        frames[frames.len() - 1] * 1e3
    );
    report(&label, frames[frames.len() / 2]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    targets = typesetting, frames
}
criterion_main!(benches);
