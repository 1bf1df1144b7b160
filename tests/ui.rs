//! Drives the real app headless with egui_kittest: click by label, assert state.
#![allow(clippy::unwrap_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use std::path::Path;
use steplab::algorithms::{Hyper, Symbol, linear, mlp};
use steplab::session::{Session, Snapshot};
use steplab::ui::{App, Command, Role, STEP_BUDGET, Settings};

fn harness() -> Harness<'static, App> {
    harness_sized(1400.0, 900.0)
}

/// A window of `width` × `height` points on the bundled example.
fn harness_sized(width: f32, height: f32) -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(width, height))
        .build_ui_state(
            |ui, app: &mut App| app.frame_ui(ui),
            App::new(Settings::default()),
        )
}

/// A window on a file holding `csv` (written to the temporary directory,
/// removed once read), loaded and built.
fn harness_on(name: &str, csv: &str) -> Harness<'static, App> {
    let path = std::env::temp_dir().join(format!("steplab-{name}-{}.csv", std::process::id()));
    std::fs::write(&path, csv).unwrap();
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadFile(path.clone()));
    h.state_mut().finish_loading();
    h.state_mut().finish_building();
    h.run();
    std::fs::remove_file(&path).unwrap();
    h
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// How the derivation panel names `symbol`'s values: `name = value`.
fn named(symbol: Symbol) -> String {
    format!("{} = ", steplab::math::plain::plain_text(symbol.latex))
}

fn loss_at_shown(h: &Harness<'_, App>) -> f64 {
    let app = h.state();
    app.session().unwrap().history()[app.shown_step()].loss
}

/// Whether the derivation panel shows the first weight of `step`'s record.
fn shows_w_of(h: &Harness<'_, App>, step: usize) -> bool {
    let w = h.state().session().unwrap().history()[step].params[0];
    let shown = steplab::export::format_number(w);
    h.query_by_label_contains(&format!("w = [{shown}"))
        .is_some()
}

#[test]
fn opens_on_the_bundled_example_ready_to_step() {
    let mut h = harness();
    h.run();
    assert_eq!(h.state().algorithm(), "linear-regression");
    assert_eq!(h.state().session().unwrap().step_count(), 0);
    assert!(h.state().error().is_none());
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 1);
    assert_eq!(h.state().shown_step(), 1);
    // The derivation panel shows the record's values for the shown step.
    let w = h.state().session().unwrap().history()[1].params[0];
    let shown = steplab::export::format_number(w);
    assert!(
        h.query_by_label_contains(&format!("w = [{shown}"))
            .is_some(),
        "derivation shows w = [{shown}, …]"
    );
    // Three features: the line drawn is a slice, each residual the row's own.
    assert!(
        h.query_by_label("model ŷ = w·x + b, other features at their means")
            .is_some()
    );
    assert!(
        h.query_by_label("residuals ŷᵢ − yᵢ, at each row's own features")
            .is_some()
    );
}

#[test]
fn step_back_timeline_and_reset() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    assert_eq!(h.state().shown_step(), 10);
    let l10 = loss_at_shown(&h);
    h.get_by_label("Back").click();
    h.run();
    assert_eq!(h.state().shown_step(), 9);
    assert!(
        loss_at_shown(&h) > l10,
        "gradient descent: the earlier loss is higher"
    );
    assert!(shows_w_of(&h, 9) && !shows_w_of(&h, 10));
    // Step while viewing the past moves the view forward, not the run.
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 10);
    assert!(shows_w_of(&h, 10) && !shows_w_of(&h, 9));
    // Step ×10 from step 7 shows the three taken, then takes seven more.
    h.state_mut().apply(Command::Show(7));
    h.get_by_label("Step ×10").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 17);
    assert_eq!(h.state().shown_step(), 17);
    h.state_mut().apply(Command::Show(3));
    h.run();
    assert_eq!(h.state().shown_step(), 3);
    assert!(shows_w_of(&h, 3));
    // Running again jumps the view to the latest step and its numbers.
    h.state_mut().apply(Command::ToggleRun);
    h.state_mut().apply(Command::ToggleRun);
    h.run();
    assert_eq!(h.state().shown_step(), 17);
    assert!(shows_w_of(&h, 17) && !shows_w_of(&h, 3));
    h.get_by_label("Reset").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 0);
}

#[test]
fn keyboard_shortcuts_step_and_run() {
    let mut h = harness();
    // Steps in the frame however long one takes on a loaded machine (at
    // 6 ms or more the next would go to a thread of its own, not yet
    // collected when the count is checked).
    h.state_mut().set_background_after(std::time::Duration::MAX);
    h.run();
    h.key_press(egui::Key::ArrowRight);
    h.run();
    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 2);
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    assert_eq!(h.state().shown_step(), 1);
    h.key_press(egui::Key::Space);
    h.step();
    assert!(h.state().running());
    h.state_mut().run_budget(0.5);
    assert!(h.state().session().unwrap().step_count() > 2);
    h.key_press(egui::Key::Space);
    h.step();
    assert!(!h.state().running());
    h.key_press(egui::Key::R);
    h.step();
    assert_eq!(h.state().session().unwrap().step_count(), 0);
}

#[test]
fn a_bad_file_shows_its_error_and_keeps_the_old_data() {
    let mut h = harness();
    h.run();
    h.state_mut()
        .apply(Command::LoadFile(fixture("ragged.csv")));
    h.state_mut().finish_loading();
    h.run();
    let error = h.state().error().unwrap().to_string();
    assert!(error.contains("line 3 has 2 fields"), "{error}");
    assert!(h.query_by_label_contains("line 3 has 2 fields").is_some());
    assert_eq!(h.state().data().unwrap().feature_names()[0], "area_m2");
    h.state_mut().apply(Command::LoadFile(fixture("clean.csv")));
    h.state_mut().finish_loading();
    h.run();
    assert!(h.state().error().is_none());
    assert_eq!(h.state().data().unwrap().feature_names(), ["x1", "x2"]);
}

#[test]
fn the_dataset_is_built_again_only_when_the_choices_or_the_file_change() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadFile(fixture("clean.csv")));
    h.state_mut().finish_loading();
    let address = |h: &Harness<'_, App>| std::ptr::from_ref(h.state().data().unwrap());
    let first = address(&h);
    h.get_by_label("Step").click();
    h.run();
    // Reset, a new learning rate and an algorithm of the same kind keep it.
    h.get_by_label("Reset").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 0);
    let hyper = Hyper {
        learning_rate: Some(0.01),
        ..Hyper::default()
    };
    h.state_mut().apply(Command::SetHyper(Box::new(hyper)));
    assert_eq!(h.state().algorithm(), "linear-regression");
    h.state_mut().apply(Command::SelectAlgorithm("mlp".into()));
    assert!(h.state().error().is_none());
    assert_eq!(address(&h), first);
    // Standardizing builds it again, with other values.
    let standardized = h.state().settings().standardize;
    h.state_mut().apply(Command::SetStandardize(!standardized));
    assert_ne!(address(&h), first);
    h.state_mut().apply(Command::SetStandardize(standardized));
    let data = h.state().data().unwrap().clone();
    // So does a file with the same columns and the same choices.
    h.state_mut()
        .apply(Command::LoadFile(fixture("semicolon_decimal_comma.csv")));
    h.state_mut().finish_loading();
    assert!(h.state().error().is_none());
    let other = h.state().data().unwrap();
    assert_eq!(other.feature_names(), data.feature_names());
    assert_eq!((other.n_rows(), data.n_rows()), (3, 5));
}

#[test]
fn rebuilds_on_their_own_thread_land_as_rebuilds_in_the_frame_do() {
    // `background` draws frames (with the session it had) until the new
    // one lands.
    let (mut background, mut inline) = background_and_inline();
    let params = |h: &Harness<'_, App>| -> Vec<Vec<u64>> {
        let s = h.state().session().unwrap();
        s.history()
            .iter()
            .map(|r| r.params.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let hyper = Hyper {
        learning_rate: Some(0.02),
        ..Hyper::default()
    };
    for command in [
        Command::SelectAlgorithm("mlp".into()),
        Command::SetRole(0, Role::Ignored),
        Command::SetStandardize(false),
        Command::SetHyper(Box::new(hyper)),
        Command::Reset,
        Command::SelectAlgorithm("k-means".into()),
    ] {
        inline.state_mut().apply(Command::Step(2));
        background.state_mut().apply(Command::Step(2));
        let before = params(&background);
        inline.state_mut().apply(command.clone());
        background.state_mut().apply(command.clone());
        assert!(background.state().is_building(), "{command:?}");
        assert_eq!(params(&background), before, "the old session meanwhile");
        frames_until(&mut background, |h| {
            if !h.state().is_building() {
                return true;
            }
            // That frame was drawn while the build went on, and says so;
            // the derivation is still the drawn session's own.
            assert!(h.query_by_label_contains("preparing the data").is_some());
            let drawn = h.state().session().unwrap().algorithm().id();
            let heading = format!("Derivation: {drawn}");
            assert!(h.query_by_label(&heading).is_some(), "{heading}");
            false
        });
        assert!(!background.state().is_building(), "{command:?}");
        let (b, i) = (background.state(), inline.state());
        assert_eq!(b.algorithm(), i.algorithm());
        assert_eq!(b.error(), i.error());
        assert_eq!(
            b.data().unwrap().feature_names(),
            i.data().unwrap().feature_names()
        );
        assert_eq!(params(&background), params(&inline), "{command:?}");
    }
    // A command during a build waits for it, and applies to the new session.
    background
        .state_mut()
        .apply(Command::SetRole(1, Role::Ignored));
    background.state_mut().apply(Command::Step(1));
    assert!(!background.state().is_building());
    assert_eq!(background.state().session().unwrap().step_count(), 1);
    assert!(
        !background
            .state()
            .data()
            .unwrap()
            .feature_names()
            .contains(&"rooms".to_string())
    );
}

#[test]
fn a_new_table_that_cannot_be_used_brings_the_previous_back_in_the_background() {
    let (mut background, mut inline) = background_and_inline();
    // A file whose dataset cannot be built (its column x2 is constant, and
    // standardization is on) says why, and the previous table comes back,
    // in the background as in the frame.
    assert!(background.state().settings().standardize);
    let features = background.state().data().unwrap().feature_names().to_vec();
    inline
        .state_mut()
        .apply(Command::LoadFile(fixture("constant_column.csv")));
    inline.state_mut().finish_loading();
    // In the background the frames go on: the error shows while the
    // previous table's session is built again, and stays once it is in.
    background
        .state_mut()
        .apply(Command::LoadFile(fixture("constant_column.csv")));
    let mut error_while_building = false;
    frames_until(&mut background, |h| {
        let app = h.state();
        error_while_building |= app.is_building() && app.error().is_some();
        !app.is_loading() && !app.is_building()
    });
    assert!(error_while_building);
    let (b, i) = (background.state(), inline.state());
    assert!(b.error().unwrap().contains("x2"), "{:?}", b.error());
    assert_eq!(b.error(), i.error());
    assert_eq!(b.roles(), i.roles());
    assert_eq!(b.data().unwrap().feature_names(), features);
    assert!(b.session().is_some());
    assert!(
        b.settings()
            .recent
            .iter()
            .all(|p| !p.ends_with("constant_column.csv"))
    );
}

#[test]
fn on_large_data_earlier_steps_are_replayed_on_their_own_thread() {
    let mut h = mlp();
    // Every dataset counts as large, and every step as slow: its replays
    // go to a thread.
    h.state_mut().set_step_budget(STEP_BUDGET, 0);
    h.state_mut()
        .set_background_after(std::time::Duration::ZERO);
    h.state_mut().apply(Command::Step(12));
    drive_until(&mut h, |app| {
        app.steps_left() == 0 && !app.stepping_in_background()
    });
    assert_eq!(h.state().session().unwrap().step_count(), 12);
    let exact = |h: &Harness<'_, App>, t: usize| {
        let app = h.state();
        app.session()
            .unwrap()
            .record_at(app.data().unwrap(), t)
            .unwrap()
    };
    // Dragging the timeline: one position a frame, the record of the last
    // replay shown until the next lands.
    h.state_mut().apply(Command::Show(3));
    assert_eq!(h.state().shown_record().unwrap().step, 12, "until it lands");
    for t in [3, 9, 4, 0, 11, 7] {
        h.state_mut().apply(Command::Show(t));
        h.step();
        let record = h.state().shown_record().unwrap().clone();
        assert_eq!(record, exact(&h, record.step), "a step's own record");
    }
    frames_until(&mut h, |h| h.state().shown_record().unwrap().step == 7);
    assert_eq!(*h.state().shown_record().unwrap(), exact(&h, 7));
    h.step();
    assert!(h.query_by_label("numbers of step 7").is_some());
    // An export writes the shown step's numbers, waiting for its replay.
    let dir = std::env::temp_dir().join(format!("steplab-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("d.md");
    h.state_mut().apply(Command::StepBack);
    h.state_mut().apply(Command::StepBack);
    h.state_mut().apply(Command::ExportDerivation(
        md.clone(),
        steplab::export::Format::Markdown,
    ));
    assert_eq!(h.state().shown_record().unwrap().step, 5);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("Values at step 5"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
    // Fast steps are replayed in the frame, large data or not.
    h.state_mut().set_background_after(std::time::Duration::MAX);
    h.state_mut().apply(Command::Show(2));
    assert_eq!(*h.state().shown_record().unwrap(), exact(&h, 2));
    // The latest step is the session's own record.
    h.state_mut().apply(Command::Show(12));
    let app = h.state();
    assert_eq!(app.shown_record(), Some(app.session().unwrap().latest()));
}

#[test]
fn records_keep_the_first_rows_of_what_no_plot_reads_and_show_the_same_numbers() {
    use steplab::algorithms::Value;
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(2));
    h.run();
    // The same algorithm outside the window, keeping whole matrices.
    let mut whole = h.state().session().unwrap().algorithm().boxed_clone();
    whole.per_row_heads(None);
    h.get_by_label("Step").click();
    h.run();
    drive_until(&mut h, |app| !app.stepping_in_background());
    h.run();
    let data = h.state().data().unwrap().clone();
    let mut session = Session::new(whole, &data).unwrap();
    assert!(session.step(&data));
    let (whole_record, record) = (session.latest(), h.state().session().unwrap().latest());
    assert_eq!(record.step, 1);
    assert_eq!(whole_record.loss.to_bits(), record.loss.to_bits());
    let Some(Value::Matrix(p)) = whole_record.get_id("probabilities") else {
        panic!("no probabilities");
    };
    let Some(Value::Head { rows, head }) = record.get_id("probabilities") else {
        panic!("the window's record keeps the whole probabilities");
    };
    assert_eq!((*rows, head.nrows()), (150, 64));
    assert_eq!(*head, p.rows(0, 64).into_owned());
    // The derivation panel writes them as it would the whole matrix.
    let text = format!(
        "{} = {}",
        steplab::math::plain::plain_text(steplab::algorithms::softmax::PROBS.latex),
        steplab::export::format_value(&Value::Matrix(p.clone()), steplab::export::SHOWN_ENTRIES)
    );
    assert!(text.contains("150×3 matrix"), "{text}");
    h.get_by_label(&text);
}

#[test]
fn switching_algorithm_resets_and_rebuilds_the_derivation() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.run();
    assert_eq!(h.state().algorithm(), "logistic-regression");
    assert!(
        h.query_by_label_contains("Derivation: logistic-regression")
            .is_some()
    );
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 1);
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-regression".into()));
    h.run();
    // exam_pass.csv has a text target: linear regression refuses it and says why.
    assert!(h.state().error().unwrap().contains("numeric target"));
    // With no model there is nothing to step: the buttons are disabled.
    for button in ["Step", "Step ×10", "Run", "Back", "Reset"] {
        assert!(
            h.get_by_label(button).accesskit_node().is_disabled(),
            "{button}"
        );
    }
}

#[test]
fn every_algorithm_draws_and_steps_on_a_fitting_example() {
    let mut h = harness();
    h.run();
    for entry in steplab::algorithms::REGISTRY {
        let example = match entry.id {
            "linear-regression" => 0,
            "k-means" | "pca" | "gmm" => 2,
            _ => 1,
        };
        h.state_mut().apply(Command::LoadExample(example));
        h.state_mut()
            .apply(Command::SelectAlgorithm(entry.id.into()));
        h.run();
        assert!(
            h.state().error().is_none(),
            "{}: {:?}",
            entry.id,
            h.state().error()
        );
        h.get_by_label("Step ×10").click();
        h.run();
        let session = h.state().session().unwrap();
        assert!(session.step_count() >= 1, "{}", entry.id);
        assert!(
            h.query_by_label_contains(&format!("Derivation: {}", entry.id))
                .is_some()
        );
        // Beside the loss, its surface; without one, the loss alone.
        let surface = session.algorithm().has_loss_surface();
        assert_eq!(
            h.query_by_label("surface over").is_some(),
            surface,
            "{}",
            entry.id
        );
        let alone = h.query_by_label("No loss surface for this algorithm.");
        assert_eq!(alone.is_some(), !surface, "{}", entry.id);
        if let Some(note) = alone {
            // The loss plot below the note takes the whole width: the note
            // starts at the panel's left edge, not right of the axis pickers.
            let axis = h.get_by_label("x axis").rect();
            assert!(note.rect().left() <= axis.left(), "{}", entry.id);
        }
    }
}

#[test]
fn column_roles_and_missing_policy_rebuild_the_dataset() {
    let mut h = harness();
    h.run();
    // houses.csv: area_m2, rooms, age_years, price_k (target).
    h.state_mut().apply(Command::SetRole(1, Role::Ignored));
    h.run();
    assert_eq!(
        h.state().data().unwrap().feature_names(),
        ["area_m2", "age_years"]
    );
    h.state_mut().apply(Command::SetRole(2, Role::Target));
    h.run();
    assert_eq!(
        h.state().data().unwrap().target().unwrap().name,
        "age_years"
    );
    assert_eq!(
        h.state().roles()[3],
        Role::Ignored,
        "the old target steps aside"
    );
    h.state_mut()
        .apply(Command::LoadFile(fixture("missing.csv")));
    h.state_mut().finish_loading();
    h.state_mut()
        .apply(Command::SetMissing(steplab::data::MissingPolicy::Mean));
    h.run();
    assert_eq!(h.state().data().unwrap().n_rows(), 10);
    assert!(h.query_by_label_contains("filled with the mean").is_some());
    h.state_mut()
        .apply(Command::SetMissing(steplab::data::MissingPolicy::Error));
    h.run();
    assert!(h.state().error().unwrap().contains("missing"));
}

#[test]
fn exports_write_the_trajectory_and_the_substituted_derivation() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    let dir = std::env::temp_dir().join(format!("steplab-ui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("t.csv");
    let md = dir.join("d.md");
    h.state_mut().apply(Command::ExportTrajectory(csv.clone()));
    h.state_mut().apply(Command::ExportDerivation(
        md.clone(),
        steplab::export::Format::Markdown,
    ));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("step,loss,w[area_m2],w[rooms],w[age_years],bias\n"));
    assert_eq!(text.lines().count(), 12);
    let derivation = std::fs::read_to_string(&md).unwrap();
    assert!(derivation.contains("Values at step 10"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_round_trip_and_a_corrupt_file_falls_back() {
    let mut s = Settings {
        algorithm: "pca".into(),
        export_dir: Some("/tmp".into()),
        ..Settings::default()
    };
    s.hypers.insert(
        "gmm".into(),
        Hyper {
            k: Some(4),
            init_rows: Some(vec![0, 9, 3, 7]),
            ..Hyper::default()
        },
    );
    let json = serde_json::to_string(&s).unwrap();
    let back: Settings = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let partial: Settings = serde_json::from_str(r#"{"algorithm": "gmm", "unknown": 3}"#).unwrap();
    assert_eq!(partial.algorithm, "gmm");
    assert!(serde_json::from_str::<Settings>("not json").is_err());
}

#[test]
fn hovering_a_derivation_value_links_it_to_the_plot() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step").click();
    h.run();
    assert!(h.state().highlighted().is_empty());
    h.get_by_label_contains(&format!("{}[", named(linear::RESIDUAL)))
        .hover();
    h.run();
    assert_eq!(h.state().highlighted(), ["residual"]);
    // grad_w shows under two steps (chain rule and gradient); either links.
    h.get_all_by_label_contains(&format!("{}[", named(linear::GRAD_W)))
        .next()
        .unwrap()
        .hover();
    h.run();
    assert!(h.state().highlighted().contains(&"grad_w"));
    // Away from the panel nothing stays lit.
    h.get_by_label("Step").hover();
    h.run();
    assert!(h.state().highlighted().is_empty());
}

#[test]
fn hovering_a_term_inside_a_formula_links_that_term() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step").click();
    h.run();
    let latex = r"r_i = \hat{y}_i - y_i";
    let rect = h.get_by_label(latex).rect();
    // Where the typesetter put each term (the app's own em: 15 px at 1 ppp).
    let alg = (steplab::algorithms::entry("linear-regression")
        .unwrap()
        .create)(&steplab::algorithms::Hyper::default())
    .unwrap();
    let symbols = steplab::algorithms::derivation_symbols(&alg.derivation());
    let candidates: Vec<&str> = symbols.iter().map(|s| s.latex).collect();
    let t = steplab::math::typeset(latex, &candidates, 15.0, [0, 0, 0]).unwrap();
    let scale = rect.width() / t.raster.width as f32;
    let at = |x: f32, y: f32| rect.min + egui::vec2(x, y) * scale;
    let mut linked = Vec::new();
    for b in &t.terms {
        let [l, top, r, bottom] = b.rect;
        h.hover_at(at(f32::midpoint(l, r), f32::midpoint(top, bottom)));
        h.run();
        assert_eq!(h.state().highlighted(), [symbols[b.candidate].id]);
        linked.push(symbols[b.candidate].id);
    }
    assert_eq!(linked, ["residual", "y_hat"]);
    // The y_i at the right end is no symbol of its own: the whole step links.
    let right = t.terms.iter().map(|b| b.rect[2]).fold(0.0, f32::max);
    h.hover_at(at(
        f32::midpoint(right, t.raster.width as f32),
        t.raster.height as f32 / 2.0,
    ));
    h.run();
    assert_eq!(h.state().highlighted(), ["residual"]);
}

#[test]
fn flat_hidden_units_are_flagged_with_what_to_do() {
    // houses.csv: a target in the hundreds, so at η = 0.1 the first errors
    // are large and the tanh units end up at ±1.
    let mut h = mlp();
    h.run();
    let warning = "of the hidden activations are flat";
    assert!(h.query_by_label_contains(warning).is_none());
    h.get_by_label("Step ×10").click();
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    assert!(h.query_by_label_contains(warning).is_some());
    // A small step keeps them learning.
    h.state_mut().apply(Command::SetLearningRate(1e-4));
    h.state_mut().apply(Command::Reset);
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    assert!(h.query_by_label_contains(warning).is_none());
    assert!(h.query_by_label_contains(&named(mlp::SATURATED)).is_some());
}

#[test]
fn a_learning_rate_above_the_stability_bound_is_flagged_before_the_run_diverges() {
    // The opening example is houses.csv under linear regression: 2/L is
    // exact, about 1.06 on its standardized features.
    let shown =
        |h: &Harness<'_, App>, text: &str| h.query_all_by_label_contains(text).next().is_some();
    let mut h = harness();
    h.run();
    assert!(shown(&h, "(stable below 2/L = "));
    h.state_mut().apply(Command::SetLearningRate(5.0));
    h.run();
    assert!(shown(&h, "(above 2/L = 1.06") && shown(&h, "the steps will grow until they diverge"));
    h.state_mut().apply(Command::SetLearningRate(0.5));
    h.run();
    assert!(!shown(&h, "(above 2/L"));
}

#[test]
fn the_theme_menu_names_its_choices_and_applies_them() {
    let mut h = harness();
    h.run();
    h.get_by_label("Theme").click();
    h.run();
    h.get_by_label("Light").click();
    h.run();
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    h.get_by_label("Theme").click();
    h.run();
    assert!(h.query_by_label("Follow the system").is_some());
    h.get_by_label("Dark").click();
    h.run();
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
}

#[test]
fn copying_the_derivation_says_so() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step").click();
    h.run();
    h.get_by_label("Export").click();
    h.run();
    h.get_by_label("Copy derivation (Markdown)").click();
    h.step();
    // The frame of the click hands the platform (eframe, which puts it on
    // the system clipboard) the derivation with step 1's numbers.
    let copied: Vec<&String> = h
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text),
            _ => None,
        })
        .collect();
    let app = h.state();
    let session = app.session().unwrap();
    let expected = steplab::export::derivation(
        session.algorithm().id(),
        &session.algorithm().derivation(),
        steplab::export::Format::Markdown,
        app.shown_record(),
    );
    assert_eq!(copied, [&expected]);
    assert!(expected.contains("step 1"), "{expected}");
    h.run();
    assert!(
        h.query_by_label("copied the derivation of step 1 to the clipboard (Markdown)")
            .is_some()
    );
}

#[test]
fn the_preview_shows_long_numbers_rounded_on_one_line() {
    let h = harness_on(
        "preview",
        "x,label,y,z\n-2.063050682434402,a,0.8953521224957158,3224431.2\n1.5,b,3.2002547448746492,12345678.123456\n",
    );
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    // Numbers with about 6 significant digits; short ones and text as written.
    for shown in [
        "-2.063051",
        "0.895352",
        "3.200255",
        "1.5",
        "a",
        "3224431.2",
        "1.23457e7",
    ] {
        assert!(h.query_by_label(shown).is_some(), "preview shows {shown}");
    }
    assert!(h.query_by_label_contains("2.063050682434402").is_none());
}

#[test]
fn slow_steps_run_in_the_background_and_land_as_steps_in_place_do() {
    // A session's first running step, of unknown speed, goes to its own thread.
    let mut first = harness();
    first.run();
    first.state_mut().apply(Command::ToggleRun);
    first.state_mut().run_budget(0.05);
    assert!(first.state().stepping_in_background());
    first.state_mut().apply(Command::ToggleRun);
    assert_eq!(first.state().session().unwrap().step_count(), 1);
    // Every running step goes to its own thread.
    let mut h = mlp();
    h.state_mut()
        .set_background_after(std::time::Duration::ZERO);
    h.state_mut().apply(Command::ToggleRun);
    let seen_out = drive_until(&mut h, |app| app.session().unwrap().step_count() >= 8);
    assert!(seen_out, "no step ran in the background");
    // Stopping waits for the step that is out.
    h.state_mut().apply(Command::ToggleRun);
    assert!(!h.state().stepping_in_background());
    let app = h.state();
    let steps = app.session().unwrap().step_count();
    assert!(steps >= 8);
    assert_eq!(app.shown_step(), steps);
    // Running while the view shows the past moves the view, in the frame.
    h.state_mut().apply(Command::ToggleRun);
    h.state_mut().apply(Command::Show(2));
    h.state_mut().run_budget(0.05);
    assert_eq!(h.state().shown_step(), 3);
    assert!(!h.state().stepping_in_background());
    h.state_mut().apply(Command::ToggleRun);
    assert_eq!(h.state().session().unwrap().step_count(), steps);
    // The same steps taken one at a time in the frame.
    assert_steps_as_in_the_frame(h.state());
}

#[test]
fn steps_asked_for_while_slow_steps_are_out_join_them() {
    use std::time::Duration;
    let mut h = mlp();
    // Every dataset counts as large and every step as slow; one step a thread.
    h.state_mut().set_step_budget(STEP_BUDGET, 0);
    h.state_mut().set_background_after(Duration::ZERO);
    h.state_mut().set_job_budget(Duration::ZERO);
    h.state_mut().apply(Command::Step(1));
    assert!(h.state().stepping_in_background());
    // Held Step key: each press joins the steps out, without waiting.
    for _ in 0..4 {
        h.state_mut().apply(Command::Step(1));
        assert!(h.state().stepping_in_background());
    }
    assert_eq!(h.state().steps_left(), 5);
    drive_until(&mut h, |app| {
        app.steps_left() == 0 && !app.stepping_in_background()
    });
    assert_eq!(h.state().session().unwrap().step_count(), 5);
    assert_eq!(h.state().shown_step(), 5);
    // Any other command still waits for the step out and stops the rest.
    h.state_mut().apply(Command::Step(3));
    h.state_mut().apply(Command::StepBack);
    assert!(!h.state().stepping_in_background());
    assert_eq!(h.state().steps_left(), 0);
    assert_eq!(h.state().session().unwrap().step_count(), 6);
    assert_steps_as_in_the_frame(h.state());
}

#[test]
fn running_slow_steps_keep_the_pace_they_were_asked_for() {
    use std::time::Duration;
    let mut h = mlp();
    h.state_mut().set_background_after(Duration::ZERO);
    h.state_mut().set_job_budget(Duration::MAX);
    let rate = h.state().settings().steps_per_second;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let second = rate as usize;
    h.state_mut().apply(Command::ToggleRun);
    // A second's worth of credit: its steps go out on one thread.
    h.state_mut().run_budget(1.0);
    assert!(h.state().stepping_in_background());
    // Another second passes while they run (or after they landed): the
    // credit builds up either way, and the next thread takes its steps.
    h.state_mut().run_budget(1.0);
    for _ in 0..10_000 {
        if !h.state().stepping_in_background() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
        h.state_mut().run_budget(0.0);
    }
    assert!(!h.state().stepping_in_background());
    assert_eq!(h.state().session().unwrap().step_count(), 2 * second);
    h.state_mut().apply(Command::ToggleRun);
    assert_steps_as_in_the_frame(h.state());
}

#[test]
fn any_mix_of_commands_and_frames_keeps_the_session_consistent() {
    use std::time::Duration;
    // Every step on a thread, one or several at a time, interleaved with
    // commands and frames as a user's clicks and the display would.
    let mut h = mlp();
    h.state_mut().set_step_budget(Duration::ZERO, 0);
    h.state_mut().set_background_after(Duration::ZERO);
    h.state_mut().set_build_rows(0);
    let mut rng = steplab::rng::Rng::new(17);
    for round in 0..300 {
        let count = h.state().session().unwrap().step_count();
        match rng.below(10) {
            0 => h.state_mut().apply(Command::Step(1)),
            1 => h.state_mut().apply(Command::Step(1 + rng.below(40))),
            2 => h.state_mut().apply(Command::ToggleRun),
            3 => h.state_mut().apply(Command::StepBack),
            4 => h.state_mut().apply(Command::Show(rng.below(count + 2))),
            5 if rng.below(4) == 0 => h.state_mut().apply(Command::Reset),
            6 => h
                .state_mut()
                .set_job_budget(Duration::from_millis(rng.below(3) as u64)),
            // The same rate again: at an earlier step it drops the later
            // steps, which the steps taken next must equal.
            7 => {
                let lr = h.state().session().unwrap().algorithm().learning_rate();
                h.state_mut().apply(Command::SetLearningRate(lr.unwrap()));
            }
            _ => {
                for _ in 0..rng.below(4) {
                    h.state_mut().run_budget(0.05);
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        }
        if round % 7 == 0 {
            // Frames drawn (a few: a spinner shown while a replay or a
            // rebuild runs asks for frames until it lands).
            h.run_steps(3);
        }
        let app = h.state();
        let session = app.session().unwrap();
        assert_eq!(
            session.history().len(),
            session.step_count() + 1,
            "round {round}"
        );
        assert!(app.shown_step() <= session.step_count(), "round {round}");
    }
    // Whatever was left in flight lands; the steps since the last Reset are
    // the steps taken at once in the frame.
    if h.state().running() {
        h.state_mut().apply(Command::ToggleRun);
    }
    h.state_mut().apply(Command::ToggleHelp);
    assert!(!h.state().stepping_in_background());
    assert_steps_as_in_the_frame(h.state());
    // The record shown (replayed in the background) is its step's own.
    let t = h.state().session().unwrap().step_count() / 2;
    h.state_mut().apply(Command::Show(t));
    frames_until(&mut h, |h| h.state().shown_record().unwrap().step == t);
    let app = h.state();
    let exact = app.session().unwrap().record_at(app.data().unwrap(), t);
    assert_eq!(app.shown_record(), exact.as_ref());
}

/// Two windows on the opening example: the first rebuilds on a thread of
/// its own (as on large tables), the second in the frame.
fn background_and_inline() -> (Harness<'static, App>, Harness<'static, App>) {
    let (mut background, mut inline) = (harness(), harness());
    background.run();
    inline.run();
    background.state_mut().set_build_rows(0);
    (background, inline)
}

/// Draws frames (a millisecond apart, for what runs on other threads)
/// until `done` says so after one.
fn frames_until(h: &mut Harness<'_, App>, mut done: impl FnMut(&Harness<'_, App>) -> bool) {
    for _ in 0..5000 {
        h.step();
        if done(h) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Drives frames as eframe does (`run_budget`, and a drawn frame while a
/// step is out) until `done`; returns whether a step ran in the background.
fn drive_until(h: &mut Harness<'_, App>, done: impl Fn(&App) -> bool) -> bool {
    let mut seen_out = false;
    for _ in 0..2000 {
        h.state_mut().run_budget(0.05);
        // While a step is out, the window still draws the latest one.
        if h.state().stepping_in_background() {
            seen_out = true;
            h.step();
        }
        if done(h.state()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    seen_out
}

/// The window on the opening example with the MLP chosen.
fn mlp() -> Harness<'static, App> {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::SelectAlgorithm("mlp".into()));
    h
}

/// Asserts that `app`'s MLP history is that of as many steps taken at once
/// in the frame, from the opening example.
fn assert_steps_as_in_the_frame(app: &App) {
    let session = app.session().unwrap();
    let mut reference = mlp();
    reference
        .state_mut()
        .apply(Command::Step(session.step_count()));
    assert_eq!(
        reference.state().session().unwrap().history(),
        session.history()
    );
}

#[test]
fn a_long_step_command_goes_on_over_frames_and_pause_stops_it() {
    use std::time::Duration;
    let mut h = mlp();
    // As on a million rows with slow steps: a Step ×N sends its steps to
    // a thread of their own, here one step a thread.
    h.state_mut().set_step_budget(Duration::ZERO, 0);
    h.state_mut().set_background_after(Duration::ZERO);
    h.state_mut().set_job_budget(Duration::ZERO);
    h.get_by_label("Step ×10").click();
    h.run();
    assert!(h.state().stepping_in_background());
    assert_eq!(h.state().steps_left(), 10);
    assert!(h.query_by_label_contains("10 more to take").is_some());
    assert!(h.query_by_label("Pause").is_some());
    let seen_out = drive_until(&mut h, |app| {
        app.steps_left() == 0 && !app.stepping_in_background()
    });
    assert!(seen_out, "no step ran in the background");
    let app = h.state();
    assert_eq!(app.session().unwrap().step_count(), 10);
    assert_eq!(app.shown_step(), 10);
    assert!(!app.running());
    // The same steps as a Step ×10 taken at once.
    assert_steps_as_in_the_frame(h.state());
    // Pause stops what is left, and does not start a run.
    h.run();
    h.get_by_label("Step ×100").click();
    h.run();
    assert_eq!(h.state().steps_left(), 100);
    h.get_by_label("Pause").click();
    h.run();
    let app = h.state();
    assert_eq!((app.steps_left(), app.running()), (0, false));
    assert_eq!(app.session().unwrap().step_count(), 11);
    assert!(h.query_by_label("Run").is_some());
    // A thread with time to spare takes all the steps left at once, and
    // Pause stops it after the step it is taking.
    h.state_mut().set_job_budget(Duration::MAX);
    for pause in [false, true] {
        let before = h.state().session().unwrap().step_count();
        h.get_by_label("Step ×100").click();
        h.run();
        assert!(h.state().stepping_in_background());
        if pause {
            h.get_by_label("Pause").click();
            h.run();
        } else {
            drive_until(&mut h, |app| !app.stepping_in_background());
        }
        let app = h.state();
        let steps = app.session().unwrap().step_count();
        assert_eq!((app.steps_left(), app.running()), (0, false));
        assert_eq!(app.shown_step(), steps);
        if pause {
            assert!(
                (before + 1..=before + 100).contains(&steps),
                "{before} → {steps}"
            );
        } else {
            assert_eq!(steps, before + 100);
        }
        assert_steps_as_in_the_frame(app);
    }
    // Fast steps go on in the frame, each frame as many as its budget
    // allows (here one).
    h.state_mut().set_background_after(Duration::MAX);
    h.get_by_label("Step ×10").click();
    h.run();
    let base = h.state().session().unwrap().step_count() - 1;
    for left in (0..9).rev() {
        h.state_mut().run_budget(0.05);
        assert!(!h.state().stepping_in_background());
        assert_eq!(h.state().steps_left(), left);
        assert_eq!(h.state().session().unwrap().step_count(), base + 10 - left);
    }
}

#[test]
fn a_new_learning_rate_at_an_earlier_step_goes_on_from_that_step() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::Step(10));
    h.state_mut().apply(Command::Show(4));
    h.run();
    let kept = h.state().session().unwrap().history()[..=4].to_vec();
    h.state_mut().apply(Command::SetLearningRate(0.05));
    h.run();
    let app = h.state();
    let session = app.session().unwrap();
    assert_eq!((session.step_count(), app.shown_step()), (4, 4));
    assert_eq!(session.history(), &kept[..]);
    assert_eq!(session.algorithm().learning_rate(), Some(0.05));
    assert!(
        h.query_by_label_contains("6 later steps were dropped")
            .is_some()
    );
    // The derivation shows step 4's numbers, and the next step is taken at the new rate.
    assert!(shows_w_of(&h, 4));
    h.get_by_label("Step").click();
    h.run();
    let session = h.state().session().unwrap();
    assert_eq!(session.step_count(), 5);
    let record = session.latest();
    let eta = record
        .values
        .iter()
        .find(|(symbol, _)| symbol.id == "eta")
        .map(|(_, v)| v.as_slice()[0]);
    assert_eq!(eta, Some(0.05));
}

/// The node of the widget labelled by the model panel's `label`.
fn model_widget<'h>(h: &'h Harness<'_, App>, label: &'h str) -> egui_kittest::Node<'h> {
    h.query_all_by_label(label)
        .find(|n| n.accesskit_node().role() != egui::accesskit::Role::Label)
        .unwrap_or_else(|| panic!("a widget labelled {label}"))
}

#[test]
fn the_model_panel_shows_and_sets_what_each_algorithm_reads() {
    use steplab::optim::OptimizerKind;
    let mut h = harness();
    h.run();
    // Linear regression reads an optimizer, not a number of clusters.
    assert!(h.query_all_by_label("optimizer").next().is_some());
    assert!(h.query_all_by_label("clusters k").next().is_none());
    assert!(h.query_all_by_label("β₁").next().is_none());
    h.state_mut().apply(Command::Step(3));
    let bound = |h: &Harness<'_, App>| {
        h.query_all_by_label_contains("stable below 2/L")
            .next()
            .is_some()
    };
    assert!(bound(&h));
    model_widget(&h, "optimizer").click();
    h.run();
    h.get_by_label("Adam").click();
    h.run();
    let app = h.state();
    assert_eq!(app.settings().hyper().optimizer, Some(OptimizerKind::Adam));
    assert_eq!(app.session().unwrap().step_count(), 0, "a new run");
    assert!(h.query_all_by_label("β₁").next().is_some());
    assert!(h.query_all_by_label("β₂").next().is_some());
    assert!(h.query_by_label_contains("Adam").is_some());
    assert!(!bound(&h), "2/L bounds gradient descent's rate, not Adam's");
    // GMM on blobs.csv: three components instead of the default two.
    h.state_mut().apply(Command::LoadExample(3));
    h.state_mut().apply(Command::SelectAlgorithm("gmm".into()));
    h.run();
    assert!(h.query_all_by_label("optimizer").next().is_none());
    let params = |h: &Harness<'_, App>| h.state().session().unwrap().history()[0].params.len();
    let d = h.state().data().unwrap().n_features();
    assert_eq!(params(&h), 2 * (1 + d + d * d));
    model_widget(&h, "clusters k").set_value_accesskit(3.0);
    h.run();
    assert_eq!(h.state().settings().hyper().k, Some(3));
    assert_eq!(params(&h), 3 * (1 + d + d * d));
    assert!(h.state().error().is_none());
    // Initial rows, typed as on the command line, set k with them.
    let field = model_widget(&h, "initial rows");
    field.click();
    field.type_text("0, 5,x");
    h.run();
    assert!(
        h.query_by_label_contains("numbers separated by commas")
            .is_some()
    );
    h.key_press(egui::Key::Backspace);
    h.key_press(egui::Key::Backspace);
    h.run();
    model_widget(&h, "initial rows").type_text(",9");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let hyper = h.state().settings().hyper();
    assert_eq!((hyper.init_rows, hyper.k), (Some(vec![0, 5, 9]), Some(3)));
    assert!(h.state().error().is_none());
    // The first mean starts at row 0.
    let row0: Vec<f64> = h
        .state()
        .data()
        .unwrap()
        .x()
        .row(0)
        .iter()
        .copied()
        .collect();
    assert_eq!(
        h.state().session().unwrap().history()[0].params[3..3 + d],
        row0[..]
    );
    // Each algorithm keeps its own settings.
    h.state_mut()
        .apply(Command::SelectAlgorithm("k-means".into()));
    h.run();
    assert_eq!(h.state().settings().hyper().k, None);
    h.state_mut().apply(Command::SelectAlgorithm("gmm".into()));
    h.run();
    assert_eq!(params(&h), 3 * (1 + d + d * d));
    // Back to what `steplab run` does without options.
    h.get_by_label("Default settings").click();
    h.run();
    assert_eq!(h.state().settings().hyper(), Hyper::default());
    assert_eq!(params(&h), 2 * (1 + d + d * d));
}

#[test]
fn an_open_dialog_that_cannot_open_says_so() {
    // Only where no dialog can open: elsewhere a real one would wait for a user.
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("zenity").is_file()));
    if !cfg!(target_os = "linux")
        || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        || zenity
    {
        return;
    }
    let mut h = harness();
    h.run();
    h.get_by_label("Open").click();
    h.run();
    h.get_by_label("CSV file…  (Ctrl+O)").click();
    h.run();
    let error = h.state().error().unwrap();
    assert!(error.contains("no file dialog can open here"), "{error}");
    assert!(h.query_by_label_contains("drop a CSV file").is_some());
}

#[test]
fn pegasos_lambda_stays_positive_on_its_slider() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-svm".into()));
    h.run();
    model_widget(&h, "L2 strength λ").set_value_accesskit(0.0);
    h.run();
    let l2 = h.state().settings().hyper().l2.unwrap();
    assert!(l2 > 0.0 && l2 < 1e-5, "{l2}");
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    // Under gradient descent λ = 0 is allowed.
    model_widget(&h, "optimizer").click();
    h.run();
    h.get_by_label("gradient descent").click();
    h.run();
    model_widget(&h, "L2 strength λ").set_value_accesskit(0.0);
    h.run();
    assert_eq!(h.state().settings().hyper().l2, Some(0.0));
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
}

#[test]
fn settings_the_run_refuses_are_undone_and_the_run_stays() {
    use steplab::optim::OptimizerKind;
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.run();
    let newton = Hyper {
        optimizer: Some(OptimizerKind::Newton),
        ..Hyper::default()
    };
    h.state_mut()
        .apply(Command::SetHyper(Box::new(newton.clone())));
    h.run();
    assert!(h.state().error().is_none());
    // Newton cannot take an L1 penalty: the error says so, Newton without it is back.
    h.state_mut().apply(Command::SetHyper(Box::new(Hyper {
        l1: 0.1,
        ..newton.clone()
    })));
    h.run();
    let error = h.state().error().unwrap();
    // In the panel's words, with the option's name.
    assert!(
        error.contains("cannot use L1 strength λ₁ (--l1)"),
        "{error}"
    );
    assert!(
        error.contains("settings before the change are back"),
        "{error}"
    );
    assert_eq!(h.state().settings().hyper(), newton);
    assert!(h.state().session().is_some());
    // Stepping on puts the error away.
    h.get_by_label("Step").click();
    h.run();
    assert!(h.state().error().is_none());
    assert_eq!(h.state().session().unwrap().step_count(), 1);
    // A row beyond the data, the same.
    h.state_mut().apply(Command::LoadExample(3));
    h.state_mut().apply(Command::SelectAlgorithm("gmm".into()));
    h.run();
    h.state_mut().apply(Command::SetHyper(Box::new(Hyper {
        init_rows: Some(vec![0, 1, 9999]),
        k: Some(3),
        ..Hyper::default()
    })));
    h.run();
    assert!(h.state().error().unwrap().contains("9999"));
    assert_eq!(h.state().settings().hyper(), Hyper::default());
    assert!(h.state().session().is_some());
    // The next change that works clears the error.
    h.state_mut().apply(Command::SetHyper(Box::new(Hyper {
        k: Some(3),
        ..Hyper::default()
    })));
    h.run();
    assert!(h.state().error().is_none());
}

#[test]
fn the_rewind_notice_counts_right_and_goes_with_the_next_command() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::Step(5));
    h.state_mut().apply(Command::Show(4));
    h.state_mut().apply(Command::SetLearningRate(0.05));
    h.run();
    assert!(
        h.query_by_label_contains("the 1 later step was dropped")
            .is_some()
    );
    h.get_by_label("Step").click();
    h.run();
    assert!(h.query_by_label_contains("dropped").is_none());
}

#[test]
fn a_run_whose_history_is_full_stops_and_says_why() {
    let mut h = harness();
    h.run();
    // Room for the losses of steps 0 to 9 in half the budget.
    h.state_mut()
        .set_history_budget(20 * std::mem::size_of::<Snapshot>());
    h.state_mut().apply(Command::Step(25));
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 9);
    assert!(
        h.query_by_label_contains("the run stopped at step 9")
            .is_some()
    );
    // Running goes no further either, and says so again.
    h.state_mut().apply(Command::ToggleRun);
    h.state_mut().run_budget(0.5);
    h.run();
    assert!(!h.state().running());
    assert_eq!(h.state().session().unwrap().step_count(), 9);
    assert!(h.state().error().unwrap().contains("losses of 10 steps"));
    // Reset starts over with the whole budget.
    h.get_by_label("Reset").click();
    h.run();
    h.state_mut().apply(Command::Step(3));
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 3);
    assert!(h.state().error().is_none());
    // Steps on a thread of their own stop at the same place.
    h.state_mut().set_step_budget(STEP_BUDGET, 0);
    h.state_mut()
        .set_background_after(std::time::Duration::ZERO);
    h.state_mut().apply(Command::Step(25));
    // Out until a frame takes them back (however fast they ran).
    assert!(h.state().stepping_in_background());
    drive_until(&mut h, |app| {
        app.steps_left() == 0 && !app.stepping_in_background()
    });
    assert_eq!(h.state().session().unwrap().step_count(), 9);
    assert!(h.state().error().unwrap().contains("stopped at step 9"));
}

#[test]
fn on_large_data_linear_regression_keeps_y_hat_at_the_rows_drawn() {
    use steplab::algorithms::Value;
    // 30,001 rows: every other one is drawn (at most 20,000).
    let path = std::env::temp_dir().join(format!("steplab-drawn-{}.csv", std::process::id()));
    let csv: String = std::iter::once("x,y".to_string())
        .chain((0..30_001).map(|i| {
            let x = f64::from(i % 97) / 10.0;
            format!("{x},{}", 2.0 * x + f64::from(i % 7) / 7.0)
        }))
        .map(|line| line + "\n")
        .collect();
    std::fs::write(&path, csv).unwrap();
    let mut h = harness();
    h.run();
    // Large from 30,001 rows on, as from DEFER_ROWS.
    h.state_mut().set_step_budget(STEP_BUDGET, 30_001);
    h.state_mut().apply(Command::LoadFile(path.clone()));
    h.state_mut().finish_loading();
    h.run();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(h.state().data().unwrap().n_rows(), 30_001);
    h.state_mut().apply(Command::Step(1));
    drive_until(&mut h, |app| !app.stepping_in_background());
    h.run();
    let record = h.state().session().unwrap().latest().clone();
    assert_eq!(record.step, 1);
    let Some(Value::Sampled {
        rows,
        every,
        values,
    }) = record.get_id("y_hat")
    else {
        panic!("y_hat is kept whole");
    };
    assert_eq!((*rows, *every, values.len()), (30_001, 2, 15_001));
    // ŷ = w·x + b at the rows kept, and r = ŷ − y.
    let (data, params) = (h.state().data().unwrap(), h.state().shown_params().unwrap());
    let y = data.target().unwrap().values.as_ref().unwrap();
    let r = record.get_id("residual").unwrap();
    for i in [0, 2, 15_000, 30_000] {
        let fitted = params[0] * data.x()[(i, 0)] + params[1];
        assert!((values[i / 2] - fitted).abs() < 1e-12, "row {i}");
        assert!((r.at_row(i, 30_001).unwrap() - (fitted - y[i])).abs() < 1e-12);
    }
    assert!(r.at_row(1, 30_001).is_none());
    // The derivation panel says which rows it has, of ŷ and of r.
    assert_eq!(
        h.query_all_by_label_contains("at rows 0, 2, 4, …: one row in 2 of 30001, those drawn")
            .count(),
        2
    );
}

/// A harness running the MLP on the bundled example, `steps` steps taken.
fn mlp_run(budget: Option<usize>, steps: usize) -> Harness<'static, App> {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::SelectAlgorithm("mlp".into()));
    h.run();
    if let Some(bytes) = budget {
        h.state_mut().set_history_budget(bytes);
    }
    h.state_mut().apply(Command::Step(steps));
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), steps);
    h
}

#[test]
fn a_long_run_thins_its_history_and_still_shows_every_step() {
    // The MLP's 41 parameters fill a budget of 1,000 snapshots' losses
    // after about 150 steps; the losses fill half of it at 500.
    let snap = std::mem::size_of::<Snapshot>();
    let mut h = mlp_run(Some(1000 * snap), 400);
    let full = mlp_run(None, 400);
    let (thin, whole) = (
        h.state().session().unwrap(),
        full.state().session().unwrap(),
    );
    assert!(thin.stride() > 1);
    let step = (1..400).find(|&s| thin.params_at(s).is_none()).unwrap();
    let far = (1..400)
        .find(|&s| thin.params_at(s).is_none() && thin.begin_replay(s).unwrap().steps() > 32)
        .unwrap();
    assert!(
        h.query_by_label_contains("older steps keep their parameters every")
            .is_some()
    );
    // A step that lost its parameters is replayed with them.
    h.state_mut().apply(Command::Show(step));
    h.run();
    assert_eq!(
        h.state().shown_params(),
        Some(whole.history()[step].params.as_slice())
    );
    assert_eq!(
        h.state().shown_record().unwrap().loss.to_bits(),
        whole.history()[step].loss.to_bits()
    );
    // A step far from the thinned checkpoints, its steps timed as slow, is
    // replayed on a thread even on small data; until it lands the window
    // shows the record before, and the model's drawings wait for the
    // step's parameters.
    h.state_mut()
        .set_background_after(std::time::Duration::ZERO);
    h.state_mut().apply(Command::Show(far));
    assert_eq!(h.state().shown_record().unwrap().step, step);
    assert_eq!(h.state().shown_params(), None);
    frames_until(&mut h, |h| h.state().shown_record().unwrap().step == far);
    assert_eq!(
        h.state().shown_params(),
        Some(whole.history()[far].params.as_slice())
    );
    // The trajectory's export leaves its cells empty.
    let path = std::env::temp_dir().join(format!("steplab-thin-{}.csv", std::process::id()));
    h.state_mut().apply(Command::ExportTrajectory(path.clone()));
    h.run();
    assert!(
        h.query_by_label_contains("the others' cells are empty")
            .is_some()
    );
    let csv = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let row = csv.lines().nth(step + 1).unwrap();
    assert_eq!(
        row,
        format!("{step},{},{}", whole.history()[step].loss, ",".repeat(40))
    );
    assert!(csv.lines().skip(1).all(|l| l.matches(',').count() == 42));
    // The run goes on until the losses fill half the budget.
    h.state_mut().apply(Command::Show(400));
    h.state_mut().apply(Command::Step(200));
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 499);
    assert!(h.state().error().unwrap().contains("losses of 500 steps"));
}

#[test]
fn on_a_narrow_window_the_plot_pickers_stay_beside_the_derivation() {
    let mut h = harness_sized(1024.0, 640.0);
    h.run();
    h.state_mut().apply(Command::LoadExample(2));
    h.state_mut()
        .apply(Command::SelectAlgorithm("softmax-regression".into()));
    h.run();
    let derivation = h.get_by_label_contains("Derivation: softmax").rect();
    for picker in ["x axis", "y axis", "log loss axis"] {
        let rect = h.query_all_by_label(picker).next().unwrap().rect();
        assert!(
            rect.right() <= derivation.left(),
            "{picker} ends at {} under the derivation from {}",
            rect.right(),
            derivation.left()
        );
    }
    // Too narrow for the loss plot and the surface side by side, they take
    // turns; on a wide window both are shown.
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-regression".into()));
    h.state_mut().apply(Command::LoadExample(0));
    h.run();
    assert!(h.query_by_label("surface over").is_none());
    h.get_by_label("loss surface").click();
    h.run();
    assert!(h.query_by_label("surface over").is_some());
    h.get_by_label("loss per step").click();
    h.run();
    assert!(h.query_by_label("surface over").is_none());
    let mut wide = harness();
    wide.run();
    assert!(wide.query_by_label("loss surface").is_none());
    assert!(wide.query_by_label("surface over").is_some());
    assert!(wide.query_by_label("— loss J").is_none());
    // A loss plot too narrow for its legend names its lines above it.
    wide.set_size(egui::vec2(600.0, 900.0));
    wide.run();
    wide.run();
    assert!(wide.query_by_label("loss surface").is_some());
    assert!(wide.query_by_label("— loss J").is_some());
    // A window shrunk to 800 points leaves the plots about a third of it.
    let mut small = harness();
    small.run();
    small.set_size(egui::vec2(800.0, 700.0));
    small.run();
    let derivation = small.get_by_label_contains("Derivation:").rect();
    let plots = small.query_all_by_label("x axis").next().unwrap().rect();
    assert!(
        derivation.left() - plots.left() >= 0.3 * 800.0,
        "plots from {} to {}",
        plots.left(),
        derivation.left()
    );
}

/// The vertex counts of every mesh the last frame drew, and how many
/// circles it drew.
fn meshes_and_circles(h: &Harness<'_, App>) -> (Vec<usize>, usize) {
    fn walk(shape: &egui::Shape, sizes: &mut Vec<usize>, circles: &mut usize) {
        match shape {
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, sizes, circles)),
            egui::Shape::Mesh(mesh) => sizes.push(mesh.vertices.len()),
            egui::Shape::Circle(_) => *circles += 1,
            _ => {}
        }
    }
    let (mut sizes, mut circles) = (Vec::new(), 0);
    for clipped in &h.output().shapes {
        walk(&clipped.shape, &mut sizes, &mut circles);
    }
    (sizes, circles)
}

#[test]
fn large_point_clouds_are_drawn_as_one_mesh_each() {
    // 2,400 rows in two classes of 1,200: at step 0 of the SVM every row
    // violates its margin.
    let path = std::env::temp_dir().join(format!("steplab-cloud-{}.csv", std::process::id()));
    let csv: String = std::iter::once("x1,x2,y".to_string())
        .chain((0..2_400).map(|i| {
            let (a, b) = (f64::from(i * 37 % 100), f64::from(i * 53 % 100));
            format!("{},{},{}", a / 10.0, b / 10.0, i % 2)
        }))
        .map(|line| line + "\n")
        .collect();
    std::fs::write(&path, csv).unwrap();
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadFile(path.clone()));
    h.state_mut().finish_loading();
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-svm".into()));
    h.state_mut().finish_building();
    h.run();
    std::fs::remove_file(&path).unwrap();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let (sizes, circles) = meshes_and_circles(&h);
    // A square (4 vertices) a point: each class. Of the 2,400 violators
    // one in five is ringed, as egui_plot's circles.
    assert_eq!(
        sizes.iter().filter(|&&n| n == 4 * 1_200).count(),
        2,
        "{sizes:?}"
    );
    assert!(!sizes.contains(&(4 * 2_400)), "{sizes:?}");
    assert!((480..1_000).contains(&circles), "{circles} circles");
    // A bundled example of fewer rows keeps egui_plot's discs and rings.
    h.state_mut().apply(Command::LoadExample(1));
    h.state_mut().finish_loading();
    h.state_mut().finish_building();
    h.run();
    let rows = h.state().data().unwrap().n_rows();
    assert!(rows < 1_000, "{rows}");
    let (_, circles) = meshes_and_circles(&h);
    assert!(circles >= rows, "{circles} circles for {rows} rows");
}

#[test]
fn a_network_on_a_numeric_target_is_drawn_as_a_curve_through_the_data() {
    let mut h = harness();
    h.run();
    // blobs.csv: x and a numeric y, which the MLP fits with an identity output.
    h.state_mut().apply(Command::LoadExample(3));
    h.state_mut().finish_loading();
    h.state_mut().apply(Command::SelectAlgorithm("mlp".into()));
    h.state_mut().finish_building();
    h.run();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(h.query_by_label("model ŷ").is_some());
}

#[test]
fn a_restart_opens_the_last_file_with_the_last_algorithm() {
    let settings = Settings {
        last_file: Some(fixture("text_target.csv")),
        algorithm: "softmax-regression".into(),
        ..Settings::default()
    };
    let mut app = App::resume(settings.clone(), None, None);
    // Until the file is read, the example is shown with its own algorithm.
    assert_eq!(app.algorithm(), "linear-regression");
    assert!(app.error().is_none());
    app.finish_loading();
    assert_eq!(app.algorithm(), "softmax-regression");
    assert!(app.error().is_none(), "{:?}", app.error());
    assert_eq!(app.data().unwrap().feature_names(), ["x1", "x2"]);
    assert!(app.session().is_some());

    // The command line's algorithm wins over the saved one.
    let mut app = App::resume(settings.clone(), None, Some("k-means".into()));
    app.finish_loading();
    assert_eq!(app.algorithm(), "k-means");
    assert!(app.error().is_none(), "{:?}", app.error());

    // A file the algorithm cannot use says why and stays, so that another
    // algorithm can be chosen for it.
    let mut app = App::resume(
        settings,
        Some(fixture("text_target.csv")),
        Some("linear-regression".into()),
    );
    app.finish_loading();
    let error = app.error().unwrap();
    assert!(error.contains("numeric target"), "{error}");
    assert_eq!(app.algorithm(), "linear-regression");
    assert!(app.session().is_none() && app.data().is_none());
    assert_eq!(app.roles().len(), 3, "the file's columns are shown");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.frame_ui(ui), app);
    h.run();
    assert!(h.query_by_label_contains("numeric target").is_some());
    assert!(
        h.query_all_by_label_contains("setosa").next().is_some(),
        "the preview shows the file"
    );
    h.state_mut()
        .apply(Command::SelectAlgorithm("softmax-regression".into()));
    h.state_mut().finish_building();
    h.run();
    let app = h.state();
    assert!(app.error().is_none(), "{:?}", app.error());
    assert_eq!(app.data().unwrap().feature_names(), ["x1", "x2"]);
    // A file loaded from the window that does not fit brings the old one
    // back, with its algorithm.
    let mut app = App::resume(Settings::default(), None, None);
    app.apply(Command::LoadFile(fixture("text_target.csv")));
    app.finish_loading();
    assert!(app.error().is_some());
    assert_eq!(app.algorithm(), "linear-regression");
    assert_eq!(app.data().unwrap().feature_names()[0], "area_m2");
}

#[test]
fn one_feature_is_drawn_along_x_with_its_classes_in_lanes() {
    let mut h = harness();
    h.run();
    // exam_pass without hours_slept: one feature and two classes.
    h.state_mut().apply(Command::LoadExample(1));
    h.state_mut().apply(Command::SetRole(1, Role::Ignored));
    h.state_mut().finish_building();
    h.get_by_label("Step ×10").click();
    h.run();
    h.run();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert_eq!(h.state().data().unwrap().n_features(), 1);
    // The boundary is the point where w·x + b = 0, and the regions the
    // two sides of it (against itself, the feature drew neither).
    assert!(h.query_by_label("boundary w·x + b = 0").is_some());
    assert!(h.query_by_label("decision regions").is_some());
}

#[test]
fn k_means_shows_where_its_centroids_were_before_the_step() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(3));
    h.state_mut().finish_building();
    h.run();
    assert_eq!(h.state().algorithm(), "k-means");
    // At step 0 there is no step to have come from.
    assert!(h.query_by_label("centroids before the step").is_none());
    h.get_by_label("Step").click();
    h.run();
    assert!(h.query_by_label("centroids before the step").is_some());
    assert!(h.query_by_label("centroid moves").is_some());
    // The legend is under the plot, not over its data.
    let axis = h.get_by_label("x axis").rect();
    let legend = h.get_by_label("group 0").rect();
    assert!(
        legend.top() > axis.bottom() + 200.0,
        "{legend:?} vs {axis:?}"
    );
}

#[test]
fn the_perceptron_rings_the_row_each_step_looked_at() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.state_mut()
        .apply(Command::SelectAlgorithm("perceptron".into()));
    h.state_mut().finish_building();
    h.run();
    let moved = "row i: misclassified, so the line moved";
    let stayed = "row i: classified right, the line stays";
    assert!(h.query_by_label(moved).is_none() && h.query_by_label(stayed).is_none());
    // Starting at zero, the first row scores 0: a mistake.
    h.get_by_label("Step").click();
    h.run();
    assert!(h.query_by_label(moved).is_some());
    // The row's index comes with its line in the file (the preview's key).
    assert!(h.query_by_label("i = 0 (line 2)").is_some());
    let rows = h.state().data().unwrap().n_rows();
    let mut stays = false;
    for _ in 0..rows {
        h.state_mut().apply(Command::Step(1));
        h.run();
        if h.query_by_label(stayed).is_some() {
            stays = true;
            break;
        }
    }
    assert!(stays, "some row is classified right within a pass");
}

#[test]
fn how_a_quantity_is_computed_starts_folded_under_the_derivation() {
    let mut h = harness();
    h.run();
    let aside = "Expanding the square shows";
    assert!(h.query_by_label_contains(aside).is_none());
    assert!(h.query_by_label_contains("A residual is how far").is_some());
    h.get_by_label("6. Computing it cheaply").click();
    h.run();
    assert!(h.query_by_label_contains(aside).is_some());
}

#[test]
fn the_data_plot_legend_wraps_inside_the_plots_panel() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-svm".into()));
    h.state_mut().finish_building();
    h.state_mut().apply(Command::Step(3));
    h.run();
    h.run();
    let derivation = h.get_by_label_contains("Derivation: linear-svm").rect();
    for name in [
        "decision regions",
        "boundary w·x + b = 0",
        "margins w·x + b = ±1",
        "margin violators",
    ] {
        let label = h.get_by_label(name).rect();
        assert!(
            label.right() <= derivation.left(),
            "'{name}' ends at {} under the derivation from {}",
            label.right(),
            derivation.left()
        );
    }
}

#[test]
fn pca_draws_the_components_found_and_the_one_being_iterated() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(2));
    h.state_mut().apply(Command::SelectAlgorithm("pca".into()));
    h.state_mut().finish_building();
    h.run();
    assert!(h.query_by_label("component 0").is_some());
    // The second is still a starting guess while the first converges.
    assert!(h.query_by_label("component 1").is_none());
    let mut second = false;
    for _ in 0..200 {
        h.state_mut().apply(Command::Step(1));
        h.run();
        if h.query_by_label("component 1").is_some() {
            second = true;
            break;
        }
    }
    assert!(
        second,
        "the second component is drawn once the first is found"
    );
    assert!(h.query_by_label("component 0").is_some());
}

#[test]
fn long_column_names_are_shortened_so_their_roles_stay_in_the_panel() {
    let long = "average_monthly_household_electricity_consumption_in_kilowatt_hours";
    let h = harness_on("long", &format!("{long},y\n1,2\n2,4.5\n3,5.5\n"));
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let shown = h.get_by_label("average_mont…owatt_hours").rect();
    let plots = h.query_all_by_label("x axis").next().unwrap().rect();
    assert!(shown.right() < plots.left(), "{shown:?} vs {plots:?}");
    // Its role picker is beside it, in the panel too.
    let role = h
        .query_all_by_label("average_mont…owatt_hours")
        .map(|n| n.rect().right())
        .fold(0.0, f32::max);
    assert!(role < plots.left(), "{role} vs {plots:?}");
}

#[test]
fn a_file_that_cannot_be_read_at_launch_keeps_the_algorithm_asked_for() {
    let path = std::env::temp_dir().join(format!("steplab-empty-{}.csv", std::process::id()));
    std::fs::write(&path, "").unwrap();
    for (id, first) in [
        ("k-means", "x"),
        ("logistic-regression", "hours_studied"),
        ("mlp", "bill_length_mm"),
        ("linear-regression", "area_m2"),
    ] {
        let mut app = App::resume(Settings::default(), Some(path.clone()), Some(id.into()));
        app.finish_loading();
        let error = app.error().unwrap();
        assert!(error.contains("steplab-empty"), "{error}");
        assert_eq!(app.algorithm(), id);
        assert!(app.session().is_some(), "{id} runs on a bundled example");
        assert_eq!(app.data().unwrap().feature_names()[0], first);
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn linear_regression_draws_its_surface_on_many_rows_from_its_moments() {
    use std::fmt::Write as _;
    let mut text = String::from("x,y\n");
    for i in 0..50_000 {
        let x = f64::from(i % 1000) / 100.0;
        let _ = writeln!(text, "{x},{}", 2.0 * x + 1.0 + f64::from(i % 7) * 0.1);
    }
    let mut h = harness_on("rows", &text);
    assert_eq!(h.state().algorithm(), "linear-regression");
    let too_large = "too large to draw the loss surface";
    assert!(h.query_by_label_contains(too_large).is_none());
    assert!(h.query_by_label("surface over").is_some());
    // A loss that takes a pass over the rows is not drawn on as many.
    h.state_mut()
        .apply(Command::SelectAlgorithm("k-means".into()));
    h.state_mut().finish_building();
    h.run();
    assert!(h.query_by_label_contains(too_large).is_some());
}

#[test]
fn the_loss_legend_lists_its_lines_in_order_in_any_corner() {
    let mut h = harness();
    h.run();
    let mut bottom = false;
    for steps in [0, 3, 30, 100] {
        h.state_mut().apply(Command::Step(steps));
        h.run();
        h.run();
        let top = |name: &str| {
            h.query_all_by_label(name)
                .map(|n| n.rect())
                .filter(|r| r.left() > 400.0)
                .map(|r| r.top())
                .fold(f32::NAN, f32::max)
        };
        let (loss, optimum, shown) = (
            top("loss J"),
            top("optimum (closed form)"),
            top("shown step"),
        );
        assert!(
            loss < optimum && optimum < shown,
            "{loss} {optimum} {shown} after {steps} steps"
        );
        // The loss plot's top is the surface pickers'.
        let plot = h.get_by_label("surface over").rect();
        bottom |= shown > plot.top() + 100.0;
    }
    assert!(bottom, "some legend sat in a bottom corner");
}

#[test]
fn help_opens_in_the_middle_clear_of_the_buttons() {
    let mut h = harness();
    h.run();
    h.get_by_label("Help").click();
    h.run();
    h.run();
    let text = h.get_by_label("Space: run / pause").rect();
    let step = h.get_by_label("Step").rect();
    assert!(text.top() > step.bottom() + 100.0, "{text:?} vs {step:?}");
    assert!((text.center().x - 700.0).abs() < 300.0, "{text:?}");
}

#[test]
fn a_boundary_drawn_over_two_of_several_features_says_it_is_a_slice() {
    let csv: String = std::iter::once("a,b,c,y".to_string())
        .chain((0..40).map(|i| {
            let (a, b, c) = (f64::from(i % 7), f64::from(i % 5), f64::from(i % 3));
            format!("{a},{b},{c},{}", u8::from(a + b + c > 6.0))
        }))
        .map(|line| line + "\n")
        .collect();
    let mut h = harness_on("slice", &csv);
    h.state_mut()
        .apply(Command::SelectAlgorithm("logistic-regression".into()));
    h.state_mut().finish_building();
    h.state_mut().apply(Command::Step(5));
    h.run();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(
        h.query_by_label("boundary w·x + b = 0, other features at their means")
            .is_some()
    );
}

#[test]
fn the_smallest_window_keeps_room_for_the_loss_plot_and_the_surface() {
    let mut h = harness_sized(960.0, 640.0);
    h.run();
    h.get_by_label("loss surface").click();
    h.run();
    let over = h.get_by_label("surface over").rect();
    assert!(over.top() < 640.0 - 180.0, "{over:?}");
}
