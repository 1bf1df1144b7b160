//! The current run: an algorithm stepped on a dataset, with its history.
//!
//! The history keeps every step's loss and (small) parameters; the large
//! per-row quantities live only in the latest record. Any earlier record is
//! rebuilt on demand by replaying from the nearest checkpoint, with the same
//! code that computed it the first time. Within a memory budget
//! ([`Session::keep_within`]) a long run thins its past: older steps keep
//! their loss, but their parameters and the checkpoints only at a spacing
//! (a power of two) that grows with the run.

use crate::algorithms::{AlgoError, Algorithm, StepRecord};
use crate::data::Dataset;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A full copy of the algorithm's state is kept at most this many steps
/// apart.
pub const CHECKPOINT_EVERY: usize = 32;

/// A copy is also kept once the steps since the last one took this long,
/// so that showing an earlier step replays about this much at most: with a
/// copy every 32 steps, a million-row MLP replayed up to 31 steps (3 s, in
/// the frame) for each position of the timeline.
pub const REPLAY_BUDGET: Duration = Duration::from_millis(50);

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// The step budget was used up.
    MaxSteps,
    /// The algorithm reached its fixed point.
    Converged,
    /// The loss or a parameter stopped being finite (or the update became undefined).
    Diverged,
}

impl StopKind {
    /// The JSON name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxSteps => "max_steps",
            Self::Converged => "converged",
            Self::Diverged => "diverged",
        }
    }
}

/// A stop with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// Which kind.
    pub kind: StopKind,
    /// The step at which it happened.
    pub step: usize,
    /// One sentence for the user.
    pub message: String,
}

/// One step of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Updates applied.
    pub step: usize,
    /// The objective after `step` updates.
    pub loss: f64,
    /// Flat parameters after `step` updates.
    pub params: Vec<f64>,
    /// Norm of the gradient at those parameters, where the algorithm has one.
    pub grad_norm: Option<f64>,
}

impl Snapshot {
    /// The memory it takes in the history.
    #[must_use]
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(self.params.as_slice())
    }

    /// Whether it still has its parameters (a thinned history keeps them
    /// only every [`Session::stride`]-th step, and at the latest).
    #[must_use]
    pub fn has_params(&self) -> bool {
        !self.params.is_empty()
    }
}

/// An algorithm, its latest record and its history.
#[derive(Debug)]
pub struct Session {
    algorithm: Box<dyn Algorithm>,
    latest: StepRecord,
    /// The record before the latest, whose per-row buffers the next step
    /// taken with [`Session::begin_steps`] writes into.
    spare: Option<StepRecord>,
    history: Vec<Snapshot>,
    /// Copies of the algorithm, in order from step 0's, and what was
    /// stepped since the last one.
    checkpoints: Vec<Checkpoint>,
    since: Since,
    stop: Option<Stop>,
    /// The history keeps every this-many-th step (and the latest); above
    /// 1, no copies are kept after step 0's ([`Session::record_every`]).
    every: usize,
    /// The bytes the history may take ([`Session::keep_within`]), and
    /// those it takes.
    budget: Option<usize>,
    held: usize,
    /// Steps before the latest keep their parameters only at multiples of
    /// this (a power of two; 1 until the budget is first reached).
    stride: usize,
}

/// A copy of the algorithm after step `step`, which replays start from.
#[derive(Debug)]
struct Checkpoint {
    step: usize,
    algorithm: Box<dyn Algorithm>,
    /// What was stepped since the copy before: what replaying from that
    /// one up to this one takes.
    cost: Since,
    /// Kept however the history is thinned: step 0's, and each copy taken
    /// at a new learning rate (a replay from a copy before it would take
    /// the later steps at the old rate).
    pinned: bool,
}

impl Checkpoint {
    fn new(step: usize, algorithm: Box<dyn Algorithm>, cost: Since, pinned: bool) -> Self {
        Self {
            step,
            algorithm,
            cost,
            pinned,
        }
    }
}

/// The steps taken since the last checkpoint, and how long they took.
#[derive(Debug, Clone, Copy, Default)]
struct Since {
    steps: usize,
    time: Duration,
}

impl Since {
    fn add(&mut self, other: Self) {
        self.steps += other.steps;
        self.time += other.time;
    }
}

/// Steps taken out of a [`Session`] to run elsewhere (the window runs
/// slow steps on another thread, so that frames keep coming): the
/// algorithm itself, how many steps to take, and what each step left.
#[derive(Debug)]
pub struct StepJob {
    algorithm: Box<dyn Algorithm>,
    /// The session's step count when the job was taken out.
    from: usize,
    /// At most this many steps, and no new one after this long.
    most: usize,
    budget: Duration,
    /// Set from elsewhere to take no new step.
    cancel: Arc<AtomicBool>,
    since: Since,
    taken: Vec<Taken>,
}

/// An earlier step's record to rebuild ([`Session::begin_replay`]): a copy
/// of the checkpoint it starts from, which the session no longer needs.
#[derive(Debug)]
pub struct Replay {
    algorithm: Box<dyn Algorithm>,
    from: usize,
    step: usize,
}

impl Replay {
    /// The step whose record this rebuilds.
    #[must_use]
    pub fn step(&self) -> usize {
        self.step
    }

    /// How many steps it takes (step 0's reset counted as one).
    #[must_use]
    pub fn steps(&self) -> usize {
        (self.step - self.from).max(1)
    }

    /// The record, each step writing into the per-row buffers of the one
    /// before (the first into those of `old`); `None` if a step fails.
    #[must_use]
    pub fn run(mut self, data: &Dataset, old: Option<StepRecord>) -> Option<StepRecord> {
        self.advance(data, old)
    }

    /// [`Self::run`], with the parameters after the step.
    #[must_use]
    pub fn run_with_params(mut self, data: &Dataset, old: Option<StepRecord>) -> Option<Replayed> {
        let record = self.advance(data, old)?;
        Some((record, self.algorithm.params()))
    }

    /// [`Self::run`], leaving the algorithm at the step.
    fn advance(&mut self, data: &Dataset, old: Option<StepRecord>) -> Option<StepRecord> {
        if self.step == 0 {
            return self.algorithm.reset(data).ok();
        }
        let mut record = old;
        for _ in self.from..self.step {
            if let Some(mut previous) = record.take() {
                self.algorithm.recycle(previous.take_per_row(data.n_rows()));
            }
            record = Some(self.algorithm.step(data).ok()?);
        }
        record
    }
}

/// A replayed step's record and its parameters ([`Replay::run_with_params`]).
pub type Replayed = (StepRecord, Vec<f64>);

/// One step as the session records it: the outcome, the parameters after
/// it, and a copy of the algorithm (with the step's number) when the step
/// is a checkpoint.
#[derive(Debug)]
struct Taken {
    outcome: Result<StepRecord, AlgoError>,
    params: Vec<f64>,
    checkpoint: Option<Checkpoint>,
}

impl Taken {
    /// Applies `algorithm`'s update, which is step number `step`, and
    /// copies the algorithm after it when [`CHECKPOINT_EVERY`] steps or
    /// [`REPLAY_BUDGET`] have passed `since` the last copy.
    fn step(algorithm: &mut dyn Algorithm, data: &Dataset, step: usize, since: &mut Since) -> Self {
        let started = Instant::now();
        let outcome = algorithm.step(data);
        since.steps += 1;
        since.time += started.elapsed();
        let due = since.steps >= CHECKPOINT_EVERY || since.time >= REPLAY_BUDGET;
        let checkpoint = (outcome.is_ok() && due)
            .then(|| Checkpoint::new(step, algorithm.boxed_clone(), std::mem::take(since), false));
        Self {
            outcome,
            params: algorithm.params(),
            checkpoint,
        }
    }

    /// Whether the run stops at this step (it failed, diverged or converged).
    fn stops(&self) -> bool {
        self.outcome
            .as_ref()
            .map_or(true, |r| r.converged || !finite(r, &self.params))
    }
}

/// Whether a step's loss and parameters are finite numbers.
fn finite(record: &StepRecord, params: &[f64]) -> bool {
    record.loss.is_finite() && params.iter().all(|v| v.is_finite())
}

impl StepJob {
    /// Applies updates (the same calls as [`Session::step`] makes): at
    /// least one, then more while fewer than the job's most have been
    /// taken, its budget lasts, it is not cancelled and the run goes on.
    /// Each step's per-row values go back to the algorithm for the next
    /// one; the last step keeps them.
    pub fn run(&mut self, data: &Dataset) {
        let started = Instant::now();
        while self.taken.len() < self.most {
            if let Some(last) = self.taken.last_mut() {
                if last.stops()
                    || started.elapsed() >= self.budget
                    || self.cancel.load(Ordering::Relaxed)
                {
                    break;
                }
                if let Ok(record) = &mut last.outcome {
                    self.algorithm.recycle(record.take_per_row(data.n_rows()));
                }
            }
            let step = self.from + self.taken.len() + 1;
            let taken = Taken::step(self.algorithm.as_mut(), data, step, &mut self.since);
            self.taken.push(taken);
        }
    }

    /// How many steps it took.
    #[must_use]
    pub fn taken(&self) -> usize {
        self.taken.len()
    }

    /// A flag that, once set, makes [`Self::run`] stop after the step it
    /// is taking.
    #[must_use]
    pub fn canceller(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }
}

impl Session {
    /// Resets `algorithm` on `data` and records step 0.
    ///
    /// # Errors
    /// The data or hyperparameters do not fit the algorithm.
    pub fn new(mut algorithm: Box<dyn Algorithm>, data: &Dataset) -> Result<Self, AlgoError> {
        let record = algorithm.reset(data)?;
        let mut session = Self {
            checkpoints: vec![Checkpoint::new(
                0,
                algorithm.boxed_clone(),
                Since::default(),
                true,
            )],
            since: Since::default(),
            history: Vec::new(),
            latest: StepRecord::new(0, record.loss),
            spare: None,
            algorithm,
            stop: None,
            every: 1,
            budget: None,
            held: 0,
            stride: 1,
        };
        let params = session.algorithm.params();
        session.push(&record, params, data);
        session.latest = record;
        Ok(session)
    }

    /// From now on keeps only every `every`-th step's snapshot (and the
    /// latest) and no copies of the algorithm after step 0's: what
    /// `steplab run --every` reports, in memory that does not grow with the
    /// steps (an MLP of 5,000 weights took 4 GB over 100,000 steps). Earlier
    /// records are still rebuilt, replayed from step 0; the history is no
    /// longer indexed by step.
    pub fn record_every(&mut self, every: usize) {
        self.every = every.max(1);
    }

    /// The algorithm at the latest step.
    #[must_use]
    pub fn algorithm(&self) -> &dyn Algorithm {
        self.algorithm.as_ref()
    }

    /// The latest record.
    #[must_use]
    pub fn latest(&self) -> &StepRecord {
        &self.latest
    }

    /// One snapshot per step, from step 0 (after [`Self::record_every`],
    /// the steps it keeps and the latest).
    #[must_use]
    pub fn history(&self) -> &[Snapshot] {
        &self.history
    }

    /// From now on keeps the history within `bytes` (its snapshots and
    /// their parameters): whenever it takes more, the steps before the
    /// latest keep their parameters only at multiples of a stride, doubled
    /// as often as it takes to come back under half the budget (so the
    /// newest steps keep theirs until the next time), and the checkpoints
    /// are thinned to match; every step keeps its loss. The
    /// copies of the algorithm are not counted: about one for every
    /// [`CHECKPOINT_EVERY`] parameter sets kept.
    pub fn keep_within(&mut self, bytes: usize) {
        self.budget = Some(bytes);
        if self.held > bytes {
            self.thin();
        }
    }

    /// How many more steps fit in the budget of [`Self::keep_within`]
    /// once thinning has done what it can: the snapshots without their
    /// parameters may take half of it.
    #[must_use]
    pub fn room(&self) -> usize {
        let Some(budget) = self.budget else {
            return usize::MAX;
        };
        let bare = self.history.len() * std::mem::size_of::<Snapshot>();
        (budget / 2).saturating_sub(bare) / std::mem::size_of::<Snapshot>()
    }

    /// The steps before the latest keep their parameters at multiples of
    /// this; 1 until the history is thinned.
    #[must_use]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The parameters of step `step`, if the history still has them.
    #[must_use]
    pub fn params_at(&self, step: usize) -> Option<&[f64]> {
        let i = self.history.partition_point(|s| s.step < step);
        self.history
            .get(i)
            .filter(|s| s.step == step && s.has_params())
            .map(|s| s.params.as_slice())
    }

    /// Drops parameters and checkpoints until the history takes at most
    /// half its budget (or keeps only step 0's and the latest parameters).
    fn thin(&mut self) {
        let Some(budget) = self.budget else {
            return;
        };
        let n = self.history.len();
        let values = self.history.last().map_or(0, |s| s.params.len());
        let bare = n * std::mem::size_of::<Snapshot>();
        let kept = |stride: usize| bare + (n / stride + 2) * values * std::mem::size_of::<f64>();
        // The least stride that frees enough: doubling it each time would
        // reach 256 by step 100,000 of an MLP (64, 64), not 16.
        let mut stride = self.stride;
        while kept(stride) > budget / 2 && stride < n {
            stride *= 2;
        }
        self.stride = stride;
        let latest = self.history.last().map_or(0, |s| s.step);
        for snapshot in &mut self.history {
            if snapshot.step % stride != 0 && snapshot.step != latest && snapshot.has_params() {
                self.held -= std::mem::size_of_val(snapshot.params.as_slice());
                snapshot.params = Vec::new();
            }
        }
        self.thin_checkpoints();
    }

    /// Keeps the checkpoints [`Self::stride`] times as far apart as
    /// [`Taken::step`] takes them (in steps or in time), besides the pinned
    /// ones and the last (which the steps to come count from).
    fn thin_checkpoints(&mut self) {
        let stride = self.stride;
        let (steps, time) = (
            CHECKPOINT_EVERY * stride,
            REPLAY_BUDGET * u32::try_from(stride).unwrap_or(u32::MAX),
        );
        let last = self.checkpoints.len().saturating_sub(1);
        let mut cost = Since::default();
        let mut kept = Vec::with_capacity(self.checkpoints.len());
        for (i, mut checkpoint) in std::mem::take(&mut self.checkpoints)
            .into_iter()
            .enumerate()
        {
            cost.add(checkpoint.cost);
            if checkpoint.pinned || i == last || cost.steps >= steps || cost.time >= time {
                checkpoint.cost = std::mem::take(&mut cost);
                kept.push(checkpoint);
            }
        }
        self.checkpoints = kept;
    }

    /// The latest step number.
    #[must_use]
    pub fn step_count(&self) -> usize {
        self.latest.step
    }

    /// Why the run stopped, once it has.
    #[must_use]
    pub fn stop(&self) -> Option<&Stop> {
        self.stop.as_ref()
    }

    /// Changes the learning rate for the steps to come (the history keeps what happened).
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.algorithm.set_learning_rate(learning_rate);
        // Replays of the steps to come start from a copy with the new rate:
        // the earlier copies would take them with the old one. It replaces
        // one made at the same step (a dragged slider sends many rates),
        // but not the first, which step 0's record is replayed from.
        let at = self.latest.step;
        let mut cost = std::mem::take(&mut self.since);
        if self.checkpoints.len() > 1
            && self.checkpoints.last().is_some_and(|c| c.step == at)
            && let Some(popped) = self.checkpoints.pop()
        {
            cost.add(popped.cost);
        }
        self.checkpoints.push(Checkpoint::new(
            at,
            self.algorithm.boxed_clone(),
            cost,
            true,
        ));
    }

    /// Forgets the steps after `step`, so that the next update starts from
    /// its parameters (with whatever was changed since, e.g. the learning
    /// rate), and the run goes on even if it had stopped later. Returns
    /// false, changing nothing, when `step`'s state cannot be rebuilt.
    pub fn truncate(&mut self, data: &Dataset, step: usize) -> bool {
        if step >= self.latest.step {
            return true;
        }
        let Some(mut replay) = self.begin_replay(step) else {
            return false;
        };
        let Some(record) = replay.advance(data, self.spare.take()) else {
            return false;
        };
        self.algorithm = replay.algorithm;
        self.latest = record;
        self.history.retain(|snapshot| snapshot.step <= step);
        // The kept step becomes the latest: its parameters come back.
        if let Some(last) = self.history.last_mut()
            && last.step == step
            && last.params.is_empty()
        {
            last.params = self.algorithm.params();
            last.params.shrink_to_fit();
        }
        self.held = self.history.iter().map(Snapshot::bytes).sum();
        // A copy at `step` holds the state after it: still the run's.
        self.checkpoints.retain(|c| c.step <= step);
        self.since = Since {
            steps: step - self.checkpoints.last().map_or(0, |c| c.step),
            time: Duration::ZERO,
        };
        self.stop = None;
        true
    }

    /// Applies one update. Returns false (and does nothing) once the run has stopped.
    pub fn step(&mut self, data: &Dataset) -> bool {
        if self.stop.is_some() {
            return false;
        }
        // The latest record's per-row values go back to the algorithm first,
        // so that the next record can be written into their memory: one set
        // of per-row arrays is alive at a time, not two.
        let per_row = self.latest.take_per_row(data.n_rows());
        self.algorithm.recycle(per_row);
        let step = self.latest.step + 1;
        let taken = Taken::step(self.algorithm.as_mut(), data, step, &mut self.since);
        self.finish(taken, data)
    }

    /// The next updates as a [`StepJob`] of at most `most` steps, taking
    /// no new one after `budget`, to run elsewhere and hand back to
    /// [`Self::finish_step`]; `None` once the run has stopped. Meanwhile the
    /// session shows its latest record whole and holds a copy of the
    /// algorithm at that step (its parameters, for display); the job writes
    /// into the per-row buffers of the record before the latest, so two
    /// sets of them are alive, not one.
    pub fn begin_steps(&mut self, most: usize, budget: Duration) -> Option<StepJob> {
        if self.stop.is_some() {
            return None;
        }
        let copy = self.algorithm.boxed_clone();
        let mut algorithm = std::mem::replace(&mut self.algorithm, copy);
        if let Some(spare) = self.spare.take() {
            algorithm.recycle(spare);
        }
        Some(StepJob {
            algorithm,
            from: self.latest.step,
            most,
            budget,
            cancel: Arc::default(),
            since: self.since,
            taken: Vec::new(),
        })
    }

    /// Takes a [`StepJob`] back (run or not) and records its steps as
    /// [`Self::step`] does. Returns false once the run has stopped.
    pub fn finish_step(&mut self, job: StepJob, data: &Dataset) -> bool {
        self.algorithm = job.algorithm;
        self.since = job.since;
        let mut going = self.stop.is_none();
        // The record shown while the job ran keeps its per-row buffers for
        // the next job; the steps in between kept none.
        let mut shown = None;
        for taken in job.taken {
            going = self.finish(taken, data);
            shown = shown.or_else(|| self.spare.take());
        }
        if shown.is_some() {
            self.spare = shown;
        }
        going
    }

    /// Records a step's outcome.
    fn finish(&mut self, taken: Taken, data: &Dataset) -> bool {
        match taken.outcome {
            Ok(record) => {
                self.push(&record, taken.params, data);
                self.spare = Some(std::mem::replace(&mut self.latest, record));
                if self.every == 1 {
                    self.checkpoints.extend(taken.checkpoint);
                }
            }
            Err(e) => {
                // The latest record is shown whole again, rebuilt by replay.
                if let Some(record) = self.replay(data, self.latest.step, None) {
                    self.latest = record;
                }
                self.stop = Some(Stop {
                    kind: StopKind::Diverged,
                    step: self.latest.step,
                    message: format!("the run stopped at step {}: {e}", self.latest.step),
                });
            }
        }
        self.stop.is_none()
    }

    /// Steps until `max_steps` updates have been applied or the run stops;
    /// then marks the stop as [`StopKind::MaxSteps`] if nothing else stopped it.
    pub fn run(&mut self, data: &Dataset, max_steps: usize) {
        while self.latest.step < max_steps && self.step(data) {}
        if self.stop.is_none() {
            self.stop = Some(Stop {
                kind: StopKind::MaxSteps,
                step: self.latest.step,
                message: format!("reached the step limit ({max_steps})"),
            });
        }
    }

    /// Clears a [`StopKind::MaxSteps`] stop so that stepping can continue.
    pub fn resume(&mut self) {
        if self
            .stop
            .as_ref()
            .is_some_and(|s| s.kind == StopKind::MaxSteps)
        {
            self.stop = None;
        }
    }

    /// The full record of an earlier step, rebuilt by replaying from the
    /// nearest checkpoint (`None` past the latest step).
    #[must_use]
    pub fn record_at(&self, data: &Dataset, step: usize) -> Option<StepRecord> {
        self.record_at_reusing(data, step, None)
    }

    /// [`Self::record_at`], the replay writing its per-row values into the
    /// buffers of `old` (a record of this session no longer needed) rather
    /// than into new memory: at a million rows an MLP record's 144 MB of
    /// fresh pages took about as long to map as the step itself.
    #[must_use]
    pub fn record_at_reusing(
        &self,
        data: &Dataset,
        step: usize,
        old: Option<StepRecord>,
    ) -> Option<StepRecord> {
        if step == self.latest.step {
            return Some(self.latest.clone());
        }
        self.replay(data, step, old)
    }

    fn replay(&self, data: &Dataset, step: usize, old: Option<StepRecord>) -> Option<StepRecord> {
        self.begin_replay(step)?.run(data, old)
    }

    /// What replaying step `step`'s record takes (a copy of the nearest
    /// checkpoint before it), to run away from the session, as the window
    /// does on large data; `None` past the latest step.
    #[must_use]
    pub fn begin_replay(&self, step: usize) -> Option<Replay> {
        if step > self.latest.step {
            return None;
        }
        // The last copy from before the step (a copy at `step` holds the
        // state after it, not its record); step 0's record is the first
        // copy's reset.
        let k = self.checkpoints.partition_point(|c| c.step < step);
        let at = if step == 0 { 0 } else { k.checked_sub(1)? };
        let checkpoint = self.checkpoints.get(at)?;
        Some(Replay {
            algorithm: checkpoint.algorithm.boxed_clone(),
            from: checkpoint.step,
            step,
        })
    }

    fn push(&mut self, record: &StepRecord, mut params: Vec<f64>, data: &Dataset) {
        // Kept for the rest of the run: without the room a growing vector
        // leaves (an MLP's flattened layers came with up to twice theirs).
        params.shrink_to_fit();
        let finite = finite(record, &params);
        // The latest step stays only until the next, unless it is kept.
        if self
            .history
            .last()
            .is_some_and(|last| last.step % self.every != 0)
            && let Some(popped) = self.history.pop()
        {
            self.held -= popped.bytes();
        }
        let snapshot = Snapshot {
            step: record.step,
            loss: record.loss,
            grad_norm: gradient_norm(record),
            params,
        };
        self.held += snapshot.bytes();
        self.history.push(snapshot);
        if self.budget.is_some_and(|budget| self.held > budget) {
            self.thin();
        }
        if !finite {
            let what = if record.loss.is_finite() {
                "a parameter"
            } else {
                "the loss"
            };
            let mut message = format!(
                "the run diverged at step {}: {what} is no longer a finite number",
                record.step
            );
            let largest = || {
                let y = data.target().and_then(|t| t.values.as_ref());
                data.x()
                    .iter()
                    .chain(y.into_iter().flatten())
                    .fold(0.0f64, |m, v| m.max(v.abs()))
            };
            if record.step == 0 && largest() > 1e150 {
                // Before any update: the data's own size, not the rate.
                message = format!(
                    "the run diverged at step 0: {what} is not a finite number at the initial parameters, so the data's values are too large to compute with (beyond about 1e154, squares overflow); standardize them"
                );
            } else if record.step == 0 {
                message = format!(
                    "the run diverged at step 0: {what} is not a finite number at the initial parameters although the data's values are of ordinary size, so the penalty strength λ or λ₁ (--l2, --l1) is too large to compute with"
                );
            } else if let (Some(lr), Some(bound)) = (
                self.algorithm.learning_rate(),
                self.algorithm.stability_bound(data),
            ) {
                use std::fmt::Write as _;
                let relation = if lr > bound { "above" } else { "below" };
                let _ = write!(
                    message,
                    " (the learning rate {} is {relation} the stability bound 2/L = {} for this data; standardizing the features or a smaller rate helps)",
                    crate::export::format_given(lr),
                    crate::export::format_number(bound)
                );
            }
            self.stop = Some(Stop {
                kind: StopKind::Diverged,
                step: record.step,
                message,
            });
        } else if record.converged {
            self.stop = Some(Stop {
                kind: StopKind::Converged,
                step: record.step,
                message: record
                    .note
                    .clone()
                    .unwrap_or_else(|| format!("converged at step {}", record.step)),
            });
        }
    }
}

/// The Euclidean norm of every recorded gradient at the current parameters
/// (symbols whose id starts with `grad_`, except the previous step's).
#[must_use]
pub fn gradient_norm(record: &StepRecord) -> Option<f64> {
    let mut found = false;
    let mut sum = 0.0;
    for (symbol, value) in &record.values {
        if symbol.id.starts_with("grad_") && symbol.id != crate::optim::GRAD_PREV.id {
            found = true;
            sum += value.as_slice().iter().map(|v| v * v).sum::<f64>();
        }
    }
    found.then(|| sum.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::{Hyper, entry};

    fn data() -> Dataset {
        Dataset::from_columns(
            &["x"],
            &[vec![0.0, 1.0, 2.0, 3.0, 4.0]],
            Some(("y", vec![1.0, 2.9, 5.2, 7.1, 8.8])),
        )
        .unwrap()
    }

    fn session(lr: f64) -> Session {
        let h = Hyper {
            learning_rate: Some(lr),
            ..Hyper::default()
        };
        Session::new(
            (entry("linear-regression").unwrap().create)(&h).unwrap(),
            &data(),
        )
        .unwrap()
    }

    #[test]
    fn the_history_keeps_no_spare_room_in_its_parameters() {
        let data = data();
        let mut s = mlp(&data);
        s.step(&data);
        for snap in s.history() {
            assert_eq!(
                snap.params.capacity(),
                snap.params.len(),
                "step {}",
                snap.step
            );
        }
    }

    #[test]
    fn room_counts_the_steps_whose_losses_fit_in_half_the_budget() {
        let data = data();
        let mut s = session(0.01);
        assert_eq!(s.room(), usize::MAX);
        let snap = std::mem::size_of::<Snapshot>();
        s.keep_within(20 * snap);
        // Step 0 is there: 9 more fit in half of 20.
        assert_eq!(s.room(), 9);
        for _ in 0..4 {
            s.step(&data);
        }
        assert_eq!(s.room(), 5);
        s.keep_within(9 * snap);
        assert_eq!(s.room(), 0);
    }

    /// An MLP (16, 16) on `data`, 321 parameters.
    fn mlp(data: &Dataset) -> Session {
        let h = Hyper {
            hidden: vec![16, 16],
            learning_rate: Some(0.01),
            ..Hyper::default()
        };
        Session::new((entry("mlp").unwrap().create)(&h).unwrap(), data).unwrap()
    }

    /// [`mlp`], taking `steps` steps at its rate and `more` at twice
    /// it, within `budget` bytes (`None`: unthinned).
    fn long_run(data: &Dataset, budget: Option<usize>, steps: usize, more: usize) -> Session {
        let mut s = mlp(data);
        if let Some(budget) = budget {
            s.keep_within(budget);
        }
        for _ in 0..steps {
            s.step(data);
        }
        s.set_learning_rate(0.02);
        for _ in 0..more {
            s.step(data);
        }
        s
    }

    #[test]
    fn a_thinned_history_stays_within_its_budget_and_replays_every_step() {
        let data = data();
        let full = long_run(&data, None, 1000, 2000);
        let budget = 1 << 20;
        let mut thin = mlp(&data);
        thin.keep_within(budget);
        for _ in 0..1000 {
            thin.step(&data);
            assert!(thin.held <= budget, "step {}", thin.step_count());
        }
        thin.set_learning_rate(0.02);
        for _ in 0..2000 {
            thin.step(&data);
            assert!(thin.held <= budget, "step {}", thin.step_count());
        }
        assert_eq!(
            thin.held,
            thin.history.iter().map(Snapshot::bytes).sum::<usize>()
        );
        // 3001 steps of 321 parameters would take 7.7 MB.
        let stride = thin.stride();
        assert!(stride >= 16, "stride {stride}");
        // Every step keeps its loss; the parameters are kept at multiples
        // of the stride and for the steps since the last thinning.
        let mut dense = false;
        for (t, f) in thin.history().iter().zip(full.history()) {
            assert_eq!((t.step, t.loss, t.grad_norm), (f.step, f.loss, f.grad_norm));
            if t.step % stride == 0 || dense {
                assert!(t.has_params(), "step {}", t.step);
            }
            dense = t.has_params() && t.step % stride != 0;
            if t.has_params() {
                assert_eq!(t.params, f.params);
            }
        }
        assert!(thin.history().last().unwrap().has_params());
        let without = thin.history().iter().filter(|t| !t.has_params()).count();
        assert!(without > 2500, "{without} steps without parameters");
        // Every step, kept or not, before or after the rate change, replays
        // to its own record and parameters.
        for step in [1, 7, 500, 999, 1000, 1001, 1003, 1777, 2999, 3000] {
            let (record, params) = thin
                .begin_replay(step)
                .unwrap()
                .run_with_params(&data, None)
                .unwrap();
            assert_eq!(record, full.record_at(&data, step).unwrap(), "step {step}");
            assert_eq!(params, full.history()[step].params, "step {step}");
        }
        // The checkpoints thinned with the parameters: step 0's and the rate
        // change's, then one at most every 32 x stride steps, and the last.
        let at: Vec<usize> = thin.checkpoints.iter().map(|c| c.step).collect();
        assert!(at.contains(&0) && at.contains(&1000), "{at:?}");
        assert!(
            at.len() <= 3 + 3000 / (CHECKPOINT_EVERY * stride / 2),
            "{at:?}"
        );
        assert!(full.checkpoints.len() > 3000 / CHECKPOINT_EVERY);
    }

    #[test]
    fn a_thinned_run_truncated_to_a_step_without_parameters_goes_on_from_it() {
        let data = data();
        let mut thin = long_run(&data, Some(1 << 20), 0, 1500);
        let full = long_run(&data, None, 0, 1500);
        let step = 1001;
        assert!(thin.params_at(step).is_none());
        assert!(thin.truncate(&data, step));
        assert_eq!(
            thin.params_at(step),
            Some(full.history()[step].params.as_slice())
        );
        assert_eq!(
            thin.held,
            thin.history.iter().map(Snapshot::bytes).sum::<usize>()
        );
        thin.step(&data);
        assert_eq!(thin.history().last(), full.history().get(step + 1));
    }

    #[test]
    fn replays_after_a_learning_rate_change_use_the_rate_of_their_step() {
        let data = data();
        let mut s = session(0.01);
        let mut records = vec![s.latest().clone()];
        // Before the first step, and twice before the fourth (as a dragged
        // slider sends them).
        s.set_learning_rate(0.02);
        for t in 1..=8 {
            if t == 4 {
                s.set_learning_rate(0.07);
                s.set_learning_rate(0.05);
            }
            s.step(&data);
            records.push(s.latest().clone());
        }
        assert_eq!(s.checkpoints.len(), 3);
        for (t, record) in records.iter().enumerate() {
            assert_eq!(s.record_at(&data, t).as_ref(), Some(record), "step {t}");
        }
    }

    #[test]
    fn a_truncated_run_goes_on_from_the_kept_step_as_a_fresh_one_would() {
        let data = data();
        let mut s = session(0.01);
        for _ in 0..70 {
            s.step(&data);
        }
        let kept: Vec<Snapshot> = s.history()[..=40].to_vec();
        assert!(s.truncate(&data, 40));
        assert_eq!(s.step_count(), 40);
        assert_eq!(s.history(), &kept[..]);
        assert_eq!(s.latest(), &s.record_at(&data, 40).unwrap());
        // A new rate from here on, as a run that changed it at step 40.
        s.set_learning_rate(0.05);
        let mut fresh = session(0.01);
        for t in 1..=60 {
            if t == 41 {
                fresh.set_learning_rate(0.05);
            }
            fresh.step(&data);
            if t > 40 {
                s.step(&data);
            }
        }
        assert_eq!(s.history(), fresh.history());
        assert_eq!(s.latest(), fresh.latest());
        for t in [0, 39, 40, 41, 59, 60] {
            assert_eq!(s.record_at(&data, t), fresh.record_at(&data, t), "step {t}");
        }
        // Back to the start, after a stop.
        s.run(&data, 60);
        assert!(s.stop().is_some());
        assert!(s.truncate(&data, 0));
        assert!(s.stop().is_none());
        assert_eq!(s.history().len(), 1);
        assert!(s.step(&data));
    }

    #[test]
    fn a_thinned_history_keeps_every_nth_step_and_the_latest_only() {
        let data = data();
        let mut full = session(0.01);
        let mut thin = session(0.01);
        thin.record_every(10);
        full.run(&data, 95);
        thin.run(&data, 95);
        let kept: Vec<&Snapshot> = full
            .history()
            .iter()
            .filter(|s| s.step % 10 == 0 || s.step == 95)
            .collect();
        assert_eq!(thin.history().iter().collect::<Vec<_>>(), kept);
        assert_eq!(thin.checkpoints.len(), 1);
        assert_eq!(thin.latest(), full.latest());
        assert_eq!(thin.stop(), full.stop());
        assert_eq!(thin.record_at(&data, 37), full.record_at(&data, 37));
    }

    /// Logistic regression on a few hundred rows (per-row records: σ, residuals).
    fn classifier() -> (Dataset, impl Fn() -> Session) {
        let n = 300;
        let mut rng = crate::rng::Rng::new(5);
        let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| f64::from(u8::from(v + 0.5 * rng.normal() > 0.0)))
            .collect();
        let data = Dataset::from_columns(&["x"], &[x], Some(("y", y))).unwrap();
        let new = {
            let data = data.clone();
            move || {
                let create = entry("logistic-regression").unwrap().create;
                Session::new(create(&Hyper::default()).unwrap(), &data).unwrap()
            }
        };
        (data, new)
    }

    #[test]
    fn replayed_records_equal_the_originals() {
        let d = data();
        let mut s = session(0.05);
        let mut originals = vec![s.latest().clone()];
        for _ in 0..100 {
            s.step(&d);
            originals.push(s.latest().clone());
        }
        for t in [0, 1, 31, 32, 33, 64, 99, 100] {
            assert_eq!(s.record_at(&d, t).as_ref(), Some(&originals[t]), "step {t}");
        }
        assert!(s.record_at(&d, 101).is_none());
    }

    /// Linear regression that fails at step `at`, and sleeps `pause` in
    /// each step.
    #[derive(Debug)]
    struct FailsAt {
        inner: Box<dyn Algorithm>,
        at: usize,
        pause: Duration,
        t: usize,
    }

    impl Algorithm for FailsAt {
        fn id(&self) -> &'static str {
            self.inner.id()
        }
        fn derivation(&self) -> Vec<crate::algorithms::DerivationStep> {
            self.inner.derivation()
        }
        fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
            self.t = 0;
            self.inner.reset(data)
        }
        fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
            self.t += 1;
            std::thread::sleep(self.pause);
            if self.t == self.at {
                return Err(AlgoError::Singular("no unique solution".into()));
            }
            self.inner.step(data)
        }
        fn params(&self) -> Vec<f64> {
            self.inner.params()
        }
        fn param_names(&self) -> Vec<String> {
            self.inner.param_names()
        }
        fn params_json(&self, flat: &[f64]) -> serde_json::Value {
            self.inner.params_json(flat)
        }
        fn boxed_clone(&self) -> Box<dyn Algorithm> {
            Box::new(Self {
                inner: self.inner.boxed_clone(),
                ..*self
            })
        }
        fn recycle(&mut self, old: StepRecord) {
            self.inner.recycle(old);
        }
    }

    /// A session of [`FailsAt`] over linear regression (η = 0.05) on [`data`].
    fn failing(at: usize, pause: Duration) -> Session {
        let h = Hyper {
            learning_rate: Some(0.05),
            ..Hyper::default()
        };
        let inner = (entry("linear-regression").unwrap().create)(&h).unwrap();
        let algorithm = FailsAt {
            inner,
            at,
            pause,
            t: 0,
        };
        Session::new(Box::new(algorithm), &data()).unwrap()
    }

    #[test]
    fn a_failed_step_stops_the_run_and_keeps_the_latest_record_whole() {
        let d = data();
        let mut s = failing(40, Duration::ZERO);
        s.run(&d, 100);
        let stop = s.stop().unwrap();
        assert_eq!(stop.kind, StopKind::Diverged);
        assert_eq!(s.step_count(), 39);
        assert!(
            stop.message.contains("no unique solution"),
            "{}",
            stop.message
        );
        // The per-row values lent to the algorithm for the failed step are back.
        let mut reference = session(0.05);
        reference.run(&d, 39);
        assert_eq!(s.latest(), reference.latest());
        assert!(s.latest().get_id("residual").is_some());
    }

    #[test]
    fn slow_steps_are_copied_often_enough_to_replay_within_the_budget() {
        let d = data();
        let mut s = failing(usize::MAX, REPLAY_BUDGET / 4);
        let mut originals = vec![s.latest().clone()];
        for _ in 0..12 {
            s.step(&d);
            originals.push(s.latest().clone());
        }
        // A copy at least every four steps (each takes a quarter of the
        // budget or more), so no replay runs more than four.
        let at: Vec<usize> = s.checkpoints.iter().map(|c| c.step).collect();
        assert_eq!(at.first(), Some(&0));
        assert!(at.windows(2).all(|w| w[1] - w[0] <= 4), "{at:?}");
        assert!(at.len() >= 4, "{at:?}");
        for (t, original) in originals.iter().enumerate() {
            assert_eq!(s.record_at(&d, t).as_ref(), Some(original), "step {t}");
        }
    }

    #[test]
    fn divergence_stops_at_the_first_non_finite_step_and_names_the_bound() {
        let d = data();
        let mut s = session(10.0);
        s.run(&d, 10_000);
        let stop = s.stop().unwrap();
        assert_eq!(stop.kind, StopKind::Diverged);
        assert_eq!(stop.step, s.step_count());
        assert!(
            s.history()[..s.history().len() - 1]
                .iter()
                .all(|h| h.loss.is_finite())
        );
        assert!(
            stop.message.contains("above the stability bound"),
            "{}",
            stop.message
        );
    }

    #[test]
    fn run_stops_at_max_steps() {
        let d = data();
        let mut s = session(0.05);
        s.run(&d, 25);
        assert_eq!(s.step_count(), 25);
        assert_eq!(s.history().len(), 26);
        assert_eq!(s.stop().unwrap().kind, StopKind::MaxSteps);
        assert!(!s.step(&d));
        s.resume();
        assert!(s.step(&d));
    }

    #[test]
    fn steps_run_on_another_thread_are_the_steps_run_in_place() {
        let (data, new) = classifier();
        let n = data.n_rows();
        let (mut here, mut there) = (new(), new());
        for _ in 0..40 {
            assert!(here.step(&data));
            let mut job = there.begin_steps(1, Duration::MAX).unwrap();
            // Meanwhile the session shows its latest step whole.
            assert!(
                there
                    .latest()
                    .values
                    .iter()
                    .any(|(_, v)| matches!(v, crate::algorithms::Value::Vector(v) if v.len() == n))
            );
            std::thread::scope(|s| s.spawn(|| job.run(&data)).join().unwrap());
            assert!(there.finish_step(job, &data));
        }
        assert_eq!(here.history(), there.history());
        assert_eq!(here.latest(), there.latest());
        // A job handed back unrun changes nothing.
        let job = there.begin_steps(1, Duration::MAX).unwrap();
        assert!(there.finish_step(job, &data));
        assert_eq!(here.history(), there.history());
    }

    #[test]
    fn a_job_of_many_steps_records_each_step_and_checkpoint() {
        let (data, new) = classifier();
        let (mut here, mut there) = (new(), new());
        // 76 steps in jobs of 1, 45 and 30: across two checkpoints.
        for most in [1, 45, 30] {
            let mut job = there.begin_steps(most, Duration::MAX).unwrap();
            std::thread::scope(|s| s.spawn(|| job.run(&data)).join().unwrap());
            assert_eq!(job.taken(), most);
            assert!(there.finish_step(job, &data));
        }
        for _ in 0..76 {
            assert!(here.step(&data));
        }
        assert_eq!(here.history(), there.history());
        assert_eq!(here.latest(), there.latest());
        // Earlier steps replay from the same checkpoints.
        for t in [1, 31, 32, 33, 47, 64, 65, 75] {
            assert_eq!(
                here.record_at(&data, t),
                there.record_at(&data, t),
                "step {t}"
            );
        }
        // The record shown before the last job keeps its per-row buffers
        // for the next one, which steps on alike.
        let per_row = |r: &StepRecord| {
            r.values
                .iter()
                .any(|(_, v)| matches!(v, crate::algorithms::Value::Vector(v) if v.len() == 300))
        };
        assert!(there.spare.as_ref().is_some_and(per_row));
        let mut job = there.begin_steps(3, Duration::MAX).unwrap();
        job.run(&data);
        assert!(there.finish_step(job, &data));
        for _ in 0..3 {
            here.step(&data);
        }
        assert_eq!(here.latest(), there.latest());
    }

    #[test]
    fn a_job_stops_when_cancelled_out_of_budget_or_when_the_run_stops() {
        let (data, new) = classifier();
        let mut s = new();
        // At least one step, whatever the flag and the budget.
        let mut job = s.begin_steps(50, Duration::MAX).unwrap();
        job.canceller().store(true, Ordering::Relaxed);
        job.run(&data);
        assert_eq!(job.taken(), 1);
        assert!(s.finish_step(job, &data));
        let mut job = s.begin_steps(50, Duration::ZERO).unwrap();
        job.run(&data);
        assert_eq!(job.taken(), 1);
        assert!(s.finish_step(job, &data));
        assert_eq!(s.step_count(), 2);
        // A diverging run: the job ends at the first non-finite step, and
        // the session stops there as in place.
        let d = super::tests::data();
        let (mut here, mut there) = (session(10.0), session(10.0));
        here.run(&d, 10_000);
        let mut job = there.begin_steps(10_000, Duration::MAX).unwrap();
        job.run(&d);
        assert_eq!(job.taken(), here.step_count());
        assert!(!there.finish_step(job, &d));
        assert_eq!(here.stop(), there.stop());
        assert_eq!(here.history(), there.history());
        // A failing step ends it too.
        let (mut here, mut there) = (failing(40, Duration::ZERO), failing(40, Duration::ZERO));
        here.run(&d, 100);
        let mut job = there.begin_steps(100, Duration::MAX).unwrap();
        job.run(&d);
        assert_eq!(job.taken(), 40);
        assert!(!there.finish_step(job, &d));
        assert_eq!(here.stop(), there.stop());
        assert_eq!(here.latest(), there.latest());
        assert_eq!(here.history(), there.history());
    }
}
