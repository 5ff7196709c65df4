//! The rules between write modes. `verdict` classifies a failed call and `next` says what becomes
//! of its changes (both pure); `Ladder` is the run-wide state of the modes: the floor of modes
//! still allowed, and the probe each mode's first call is. A mode's first call is sent alone and
//! the others wait for its answer, so a refused (403) mode costs one refusal, not one per call in
//! flight; a 403 lowers the floor once for the whole run, so it is logged once.
//!
//! What fails under pressure (429, 5xx, a timeout, a broken connection) is never decomposed into
//! more, smaller calls: a batch call is re-read and its remainder sent again as batch calls.
//! Only what the service rejects (another 4xx) or refuses (403) goes to smaller calls: a rejected
//! batch is bisected until the desktop it is about stands alone.

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::report::WriteMode;
use desktag_api::ApiError;

/// What a failed call means for the changes it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// 403: the credentials may not use this kind of call; the next mode may still be allowed.
    Refused,
    /// Another 4xx (not 401 or 429): the service rejected what was sent (a bad tag, a desktop
    /// over its cap or gone). Sending it again unchanged would be rejected again.
    Rejected,
    /// Anything else: 401, 429 or 5xx after the retries, a timeout, a broken connection. The
    /// call may or may not have been applied; the service is under pressure or away.
    Failed,
}

pub(super) fn verdict(error: &ApiError) -> Verdict {
    match error {
        ApiError::Service { status: 403, .. } => Verdict::Refused,
        ApiError::Service { status, .. }
            if (400..500).contains(status) && *status != 401 && *status != 429 =>
        {
            Verdict::Rejected
        }
        _ => Verdict::Failed,
    }
}

/// What to do with the changes of a call that failed in some mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Re-read the desktops (the call may have been applied) and send what is still pending again
    /// in the same mode, after a pause; a bounded number of rounds.
    Again,
    /// Split the call's desktops in halves and send each half in the same mode.
    Bisect,
    /// Send them again in this (lower) mode.
    FallBack(WriteMode),
    /// Report them failed with this call's error.
    Fail,
}

/// The one table of the ladder. `desktops` is how many desktops the failed call carried.
///
/// - A batch call that failed under pressure is sent again as a batch call; one that was
///   rejected is bisected, and a rejected batch of one desktop goes to a per-desktop call; a
///   refused one goes to per-desktop calls (the run's floor drops).
/// - A per-desktop call that was rejected or refused is redone one tag at a time, so a bad tag
///   fails alone; one that failed under pressure is reported failed (not decomposed).
/// - A single-tag call that failed is reported failed.
pub(super) fn next(mode: WriteMode, verdict: Verdict, desktops: usize) -> Next {
    match (mode, verdict) {
        (WriteMode::Batch, Verdict::Failed) => Next::Again,
        (WriteMode::Batch, Verdict::Rejected) if desktops > 1 => Next::Bisect,
        (WriteMode::Batch, Verdict::Rejected | Verdict::Refused) => {
            Next::FallBack(WriteMode::Desktop)
        }
        (WriteMode::Desktop, Verdict::Refused | Verdict::Rejected) => {
            Next::FallBack(WriteMode::Tag)
        }
        (WriteMode::Desktop, Verdict::Failed) | (WriteMode::Tag, _) => Next::Fail,
    }
}

/// The modes of a run: the best one still allowed, and for each mode whether a call of it has
/// been answered (other than with a 403) or is out as the probe.
#[derive(Debug)]
pub(super) struct Ladder {
    state: Mutex<State>,
    /// Woken when a probe is answered (or given up).
    answered: Notify,
}

#[derive(Debug)]
struct State {
    floor: WriteMode,
    /// By `WriteMode as usize`: a call of the mode was answered with anything but a 403.
    proven: [bool; 3],
    /// By `WriteMode as usize`: the mode's probe is in flight.
    probing: [bool; 3],
}

/// What `Ladder::admit` lets a caller do: send in `mode`; `probe` when this call is the mode's
/// first and the others wait for its answer (report it with `Ladder::answered`, or
/// `Ladder::withdrawn` when it is not sent after all).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Admit {
    pub mode: WriteMode,
    pub probe: bool,
}

impl Ladder {
    pub(crate) fn new(mode: WriteMode) -> Ladder {
        Ladder {
            state: Mutex::new(State {
                floor: mode,
                proven: [false; 3],
                probing: [false; 3],
            }),
            answered: Notify::new(),
        }
    }

    /// `wanted`, or the run's floor when that is lower.
    pub(crate) fn mode(&self, wanted: WriteMode) -> WriteMode {
        wanted.max(self.lock().floor)
    }

    /// Waits until a call in `wanted` (or the run's floor, when lower) may be sent. The first
    /// call of a mode is its probe and is let through at once; the others wait for the probe's
    /// answer. Cancel-safe: a waiter dropped meanwhile holds nothing.
    pub(crate) async fn admit(&self, wanted: WriteMode) -> Admit {
        loop {
            let notified = self.answered.notified();
            tokio::pin!(notified);
            // Registered before the state is read: an answer given after the read wakes it.
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                let mode = wanted.max(state.floor);
                let at = mode as usize;
                if state.proven[at] {
                    return Admit { mode, probe: false };
                }
                if !state.probing[at] {
                    state.probing[at] = true;
                    return Admit { mode, probe: true };
                }
            }
            notified.await;
        }
    }

    /// Records the answer to a call of `mode`: `refused` for a 403, which lowers the floor below
    /// `mode` for the rest of the run. `probe` when the call was the mode's probe (its waiters
    /// are released). True for the one answer that lowered the floor (it logs the warning).
    pub(crate) fn answered(&self, mode: WriteMode, probe: bool, refused: bool) -> bool {
        let lowered = {
            let mut state = self.lock();
            let at = mode as usize;
            if probe {
                state.probing[at] = false;
            }
            match (refused, mode.next()) {
                (false, _) => {
                    state.proven[at] = true;
                    false
                }
                (true, Some(next)) if next > state.floor => {
                    state.floor = next;
                    true
                }
                (true, _) => false,
            }
        };
        if probe || lowered {
            self.answered.notify_waiters();
        }
        lowered
    }

    /// A probe that was not sent after all (the run was interrupted): the next caller probes.
    pub(crate) fn withdrawn(&self, mode: WriteMode) {
        self.lock().probing[mode as usize] = false;
        self.answered.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16) -> ApiError {
        ApiError::Service {
            status,
            error_code: "X".into(),
            error_msg: "x".into(),
            request_id: None,
            detail: None,
        }
    }

    #[test]
    fn statuses_map_to_verdicts() {
        assert_eq!(verdict(&service(403)), Verdict::Refused);
        for status in [400, 404, 409, 413] {
            assert_eq!(verdict(&service(status)), Verdict::Rejected, "{status}");
        }
        for status in [401, 429, 500, 503] {
            assert_eq!(verdict(&service(status)), Verdict::Failed, "{status}");
        }
        assert_eq!(
            verdict(&ApiError::Connect {
                endpoint: "e".into(),
                detail: "refused".into()
            }),
            Verdict::Failed
        );
    }

    #[test]
    fn a_throttled_or_failed_batch_stays_a_batch() {
        for desktops in [1, 2, 100] {
            assert_eq!(
                next(WriteMode::Batch, Verdict::Failed, desktops),
                Next::Again
            );
        }
        assert_eq!(
            next(WriteMode::Batch, verdict(&service(429)), 100),
            Next::Again
        );
    }

    #[test]
    fn a_rejected_batch_is_bisected_down_to_one_desktop() {
        assert_eq!(next(WriteMode::Batch, Verdict::Rejected, 100), Next::Bisect);
        assert_eq!(next(WriteMode::Batch, Verdict::Rejected, 2), Next::Bisect);
        assert_eq!(
            next(WriteMode::Batch, Verdict::Rejected, 1),
            Next::FallBack(WriteMode::Desktop)
        );
    }

    #[test]
    fn a_refused_batch_goes_per_desktop_and_a_refused_or_rejected_desktop_call_per_tag() {
        assert_eq!(
            next(WriteMode::Batch, Verdict::Refused, 100),
            Next::FallBack(WriteMode::Desktop)
        );
        for v in [Verdict::Refused, Verdict::Rejected] {
            assert_eq!(
                next(WriteMode::Desktop, v, 1),
                Next::FallBack(WriteMode::Tag)
            );
        }
    }

    #[test]
    fn per_desktop_and_single_tag_calls_are_never_decomposed_under_pressure() {
        assert_eq!(next(WriteMode::Desktop, Verdict::Failed, 1), Next::Fail);
        for v in [Verdict::Refused, Verdict::Rejected, Verdict::Failed] {
            assert_eq!(next(WriteMode::Tag, v, 1), Next::Fail);
        }
    }

    #[test]
    fn the_floor_drops_once_per_refused_mode() {
        let ladder = Ladder::new(WriteMode::Batch);
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Batch);
        assert!(
            ladder.answered(WriteMode::Batch, false, true),
            "the first refusal warns"
        );
        assert!(
            !ladder.answered(WriteMode::Batch, false, true),
            "later ones do not"
        );
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Desktop);
        assert_eq!(ladder.mode(WriteMode::Tag), WriteMode::Tag);
        assert!(ladder.answered(WriteMode::Desktop, false, true));
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Tag);
        assert!(
            !ladder.answered(WriteMode::Tag, false, true),
            "nothing below single tags"
        );
    }

    #[test]
    fn a_run_asked_for_single_tags_never_climbs() {
        let ladder = Ladder::new(WriteMode::Tag);
        assert!(!ladder.answered(WriteMode::Batch, false, true));
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Tag);
    }

    #[tokio::test]
    async fn a_mode_sends_one_probe_and_the_others_wait_for_its_answer() {
        let ladder = std::sync::Arc::new(Ladder::new(WriteMode::Batch));
        assert_eq!(
            ladder.admit(WriteMode::Batch).await,
            Admit {
                mode: WriteMode::Batch,
                probe: true
            }
        );
        // A second caller waits while the probe is out.
        let waiter = tokio::spawn({
            let ladder = ladder.clone();
            async move { ladder.admit(WriteMode::Batch).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // The probe is refused: the waiter is let through as the probe of the next mode.
        assert!(ladder.answered(WriteMode::Batch, true, true));
        assert_eq!(
            waiter.await.unwrap(),
            Admit {
                mode: WriteMode::Desktop,
                probe: true
            }
        );
        // Per-desktop calls are allowed: everyone after goes at once.
        assert!(!ladder.answered(WriteMode::Desktop, true, false));
        for _ in 0..3 {
            assert_eq!(
                ladder.admit(WriteMode::Batch).await,
                Admit {
                    mode: WriteMode::Desktop,
                    probe: false
                }
            );
        }
    }

    #[tokio::test]
    async fn a_withdrawn_probe_lets_the_next_caller_probe() {
        let ladder = Ladder::new(WriteMode::Desktop);
        assert!(matches!(
            ladder.admit(WriteMode::Desktop).await,
            Admit { probe: true, .. }
        ));
        ladder.withdrawn(WriteMode::Desktop);
        assert!(matches!(
            ladder.admit(WriteMode::Desktop).await,
            Admit { probe: true, .. }
        ));
    }
}
