//! The state machine itself, single-threaded: [`super::CircuitBreaker`] runs it under a lock.
//!
//! The rules it implements are listed in the docs of [`super`].

use super::state::{CallOutcome, Permit, Reason, State, Transition};
use super::window::{Tally, Window};
use crate::backend::clock::nanos;
use crate::config::{BreakerConfig, WindowKind};
use std::sync::Arc;

/// Timed transitions applied by one `tick` at most; later ones are dated `now`.
const MAX_CATCH_UP: usize = 4;

#[derive(Debug)]
pub(super) struct Machine {
    cfg: Arc<BreakerConfig>,
    state: State,
    generation: u64,
    window: Window,
    minimum: u32,
    entered_at: u64,
    probes_left: u32,
}

impl Machine {
    pub(super) fn new(cfg: Arc<BreakerConfig>, now: u64) -> Self {
        let window = closed_window(&cfg);
        let minimum = cfg.closed_minimum();
        Self {
            cfg,
            state: State::Closed,
            generation: 0,
            window,
            minimum,
            entered_at: now,
            probes_left: 0,
        }
    }

    pub(super) fn state(&self) -> State {
        self.state
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// When the next timed transition is due, if one is.
    pub(super) fn deadline(&self) -> Option<u64> {
        match self.state {
            State::Open => Some(self.entered_at.saturating_add(nanos(self.cfg.wait_in_open))),
            State::HalfOpen => self
                .cfg
                .max_wait_in_half_open
                .map(|d| self.entered_at.saturating_add(nanos(d))),
            _ => None,
        }
    }

    /// The state at `now` if the timed transitions due by then were applied.
    pub(super) fn state_at(&self, now: u64) -> State {
        match (self.state, self.deadline()) {
            (State::Open, Some(d)) if now >= d => State::HalfOpen,
            (State::HalfOpen, Some(d)) if now >= d => State::Open,
            (s, _) => s,
        }
    }

    /// Applies the timed transitions due by `now`.
    pub(super) fn tick(&mut self, now: u64, out: &mut Vec<Transition>) {
        for i in 0.. {
            let Some(deadline) = self.deadline().filter(|&d| now >= d) else {
                return;
            };
            let at = if i < MAX_CATCH_UP { deadline } else { now };
            let (to, reason) = match self.state {
                State::Open => (State::HalfOpen, Reason::WaitInOpenElapsed),
                _ => (State::Open, Reason::MaxWaitInHalfOpenElapsed),
            };
            out.push(self.enter(to, reason, at));
            if i >= MAX_CATCH_UP {
                return;
            }
        }
    }

    /// Asks leave for one call at `now` (after the timed transitions due by then).
    pub(super) fn acquire(&mut self, now: u64, out: &mut Vec<Transition>) -> Result<Permit, State> {
        self.tick(now, out);
        match self.state {
            State::Closed | State::Disabled => Ok(self.permit()),
            State::HalfOpen if self.probes_left > 0 => {
                self.probes_left -= 1;
                Ok(self.permit())
            }
            s => Err(s),
        }
    }

    /// True when [`Self::acquire`] at `now` would hand out a permit; changes nothing.
    pub(super) fn would_permit(&self, now: u64) -> bool {
        match self.state_at(now) {
            State::Closed | State::Disabled => true,
            State::HalfOpen => self.state == State::Open || self.probes_left > 0,
            State::Open | State::ForcedOpen => false,
        }
    }

    /// Gives back an unused permit (a call that ended neither way, e.g. the client left).
    pub(super) fn release(&mut self, permit: Permit) {
        if self.state == State::HalfOpen && permit.generation == self.generation {
            self.probes_left = (self.probes_left + 1).min(self.cfg.half_open_calls);
        }
    }

    /// Records the outcome of a permitted call; returns false when it was not counted.
    pub(super) fn record(
        &mut self,
        permit: Permit,
        now: u64,
        outcome: CallOutcome,
        out: &mut Vec<Transition>,
    ) -> bool {
        let slow = outcome.duration > self.cfg.slow_call_duration;
        let current = permit.generation == self.generation;
        match self.state {
            State::Closed | State::HalfOpen if current => {
                let tally = self.window.record(now, outcome.failed, slow);
                self.decide(tally, now, out);
                true
            }
            State::Open if permit.generation + 1 == self.generation => {
                self.window.record(now, outcome.failed, slow);
                true
            }
            _ => false,
        }
    }

    fn decide(&mut self, tally: Tally, now: u64, out: &mut Vec<Transition>) {
        let cfg = &self.cfg;
        let exceeded = tally.exceeds(
            self.minimum,
            cfg.failure_rate_threshold,
            cfg.slow_call_rate_threshold,
        );
        if exceeded {
            let failure_over = tally.exceeds(self.minimum, cfg.failure_rate_threshold, 101);
            let reason = if failure_over {
                Reason::FailureRate
            } else {
                Reason::SlowCallRate
            };
            out.push(self.enter(State::Open, reason, now));
        } else if self.state == State::HalfOpen && tally.calls >= self.minimum {
            out.push(self.enter(State::Closed, Reason::ProbesPassed, now));
        }
    }

    /// Moves to `to` on the admin's request; `None` when already there.
    pub(super) fn transition_to(&mut self, to: State, now: u64) -> Option<Transition> {
        (to != self.state).then(|| self.enter(to, Reason::Admin, now))
    }

    /// Back to closed with an empty window, whatever the state.
    pub(super) fn reset(&mut self, now: u64) -> Option<Transition> {
        if self.state == State::Closed {
            self.window = closed_window(&self.cfg);
            self.generation += 1;
            return None;
        }
        self.transition_to(State::Closed, now)
    }

    /// The current window's tally and minimum.
    pub(super) fn tally(&mut self, now: u64) -> (Tally, u32) {
        (self.window.tally(now), self.minimum)
    }

    fn permit(&self) -> Permit {
        Permit {
            generation: self.generation,
        }
    }

    fn enter(&mut self, to: State, reason: Reason, at: u64) -> Transition {
        let tally = self.window.tally(at);
        let transition = Transition {
            from: self.state,
            to,
            reason,
            at,
            failure_rate: tally.failure_rate(self.minimum),
            slow_call_rate: tally.slow_call_rate(self.minimum),
        };
        match to {
            // Open keeps the window that opened it, as Resilience4j does.
            State::Open => {}
            State::Closed => {
                self.window = closed_window(&self.cfg);
                self.minimum = self.cfg.closed_minimum();
            }
            State::HalfOpen => {
                self.window = Window::count(self.cfg.half_open_calls);
                self.minimum = self.cfg.half_open_minimum();
                self.probes_left = self.cfg.half_open_calls;
            }
            State::Disabled | State::ForcedOpen => {
                self.window = Window::count(0);
                self.minimum = 1;
            }
        }
        self.state = to;
        self.entered_at = at;
        self.generation += 1;
        transition
    }
}

fn closed_window(cfg: &BreakerConfig) -> Window {
    match cfg.window {
        WindowKind::Count => Window::count(cfg.window_size),
        WindowKind::Time => Window::time(cfg.window_size),
    }
}
