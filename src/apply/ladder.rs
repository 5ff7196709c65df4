//! The fallback rules between write modes. `verdict` classifies a failed call (pure); `Ladder` is
//! the run-wide floor of modes still allowed: a 403 on one kind of call lowers it once for the
//! whole run, so the refusal is logged once and not once per chunk or desktop.

use std::sync::atomic::{AtomicU8, Ordering};

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
    /// Anything else: 401, 429 or 5xx after the retries, a timeout, a broken connection.
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

/// What to do with the changes of a call that failed in `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Send them again in this mode.
    FallBack(WriteMode),
    /// Report them failed with this call's error.
    Fail,
}

/// A failed batch call is always redone per desktop (the re-read would not confirm it anyway); a
/// rejected or refused per-desktop call is redone one tag at a time, so a bad tag fails alone.
pub(super) fn next(mode: WriteMode, verdict: Verdict) -> Next {
    match (mode, verdict) {
        (WriteMode::Batch, _) => Next::FallBack(WriteMode::Desktop),
        (WriteMode::Desktop, Verdict::Refused | Verdict::Rejected) => {
            Next::FallBack(WriteMode::Tag)
        }
        (WriteMode::Desktop, Verdict::Failed) | (WriteMode::Tag, _) => Next::Fail,
    }
}

/// The best mode the run may still use. Starts at the mode asked for; only ever moves down
/// (along `WriteMode::ALL`).
#[derive(Debug)]
pub(super) struct Ladder {
    /// The index in `WriteMode::ALL` of the best mode still allowed.
    floor: AtomicU8,
}

impl Ladder {
    pub(crate) fn new(mode: WriteMode) -> Ladder {
        Ladder {
            floor: AtomicU8::new(mode as u8),
        }
    }

    /// `wanted`, or the run's floor when that is lower.
    pub(crate) fn mode(&self, wanted: WriteMode) -> WriteMode {
        let floor = WriteMode::ALL[usize::from(self.floor.load(Ordering::Relaxed))];
        wanted.max(floor)
    }

    /// Records that the service refused (403) a call of `mode`: the rest of the run uses the
    /// next mode. True for the one call that lowered the floor (it logs the warning).
    pub(crate) fn refuse(&self, mode: WriteMode) -> bool {
        let Some(next) = mode.next() else {
            return false;
        };
        let previous = self.floor.fetch_max(next as u8, Ordering::Relaxed);
        previous < next as u8
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
    fn batch_falls_back_to_desktop_and_a_rejected_desktop_call_to_single_tags() {
        for v in [Verdict::Refused, Verdict::Rejected, Verdict::Failed] {
            assert_eq!(
                next(WriteMode::Batch, v),
                Next::FallBack(WriteMode::Desktop)
            );
            assert_eq!(next(WriteMode::Tag, v), Next::Fail);
        }
        assert_eq!(
            next(WriteMode::Desktop, Verdict::Rejected),
            Next::FallBack(WriteMode::Tag)
        );
        assert_eq!(
            next(WriteMode::Desktop, Verdict::Refused),
            Next::FallBack(WriteMode::Tag)
        );
        assert_eq!(next(WriteMode::Desktop, Verdict::Failed), Next::Fail);
    }

    #[test]
    fn the_floor_drops_once_per_refused_mode() {
        let ladder = Ladder::new(WriteMode::Batch);
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Batch);
        assert!(ladder.refuse(WriteMode::Batch), "the first refusal warns");
        assert!(!ladder.refuse(WriteMode::Batch), "later ones do not");
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Desktop);
        assert_eq!(ladder.mode(WriteMode::Tag), WriteMode::Tag);
        assert!(ladder.refuse(WriteMode::Desktop));
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Tag);
        assert!(!ladder.refuse(WriteMode::Tag), "nothing below single tags");
    }

    #[test]
    fn a_run_asked_for_single_tags_never_climbs() {
        let ladder = Ladder::new(WriteMode::Tag);
        assert!(!ladder.refuse(WriteMode::Batch));
        assert_eq!(ladder.mode(WriteMode::Batch), WriteMode::Tag);
    }
}
