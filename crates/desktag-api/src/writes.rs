//! Tag writes: one tag (`POST …/tags`, `DELETE …/tags/{key}`), several tags of one desktop
//! (`POST …/tags/action`) and tags of up to 100 desktops (`POST`/`DELETE …/desktops/batch-tags`).
//! Deletes send keys only. Arguments a call cannot carry are refused before anything is sent
//! (`attempts: 0`); splitting work into calls that fit is the caller's job.

use reqwest::Method;

use super::client::Client;
use super::error::{ApiError, CallError};
use super::executor::Attempts;
use super::transport::Call;
use super::wire;
use desktag_core::tags::Tags;

/// Most desktops one `batch-tags` call may carry; larger calls are refused unsent.
pub const BATCH_MAX_DESKTOPS: usize = 100;
/// Most tags per desktop in one `batch-tags` call; larger calls are refused unsent.
pub const BATCH_MAX_TAGS: usize = 20;

/// The tags of one desktop in a cross-desktop `batch-tags` call (values are ignored on delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesktopTags {
    pub desktop_id: String,
    pub tags: Tags,
}

/// The action of `POST …/tags/action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagAction {
    /// Create or overwrite every given tag.
    Create,
    /// Delete every given key (sent key-only; values are ignored).
    Delete,
}

impl TagAction {
    fn as_str(self) -> &'static str {
        match self {
            TagAction::Create => "create",
            TagAction::Delete => "delete",
        }
    }
}

impl Client {
    /// Creates or overwrites one tag (`POST …/desktops/{id}/tags`).
    pub async fn create_tag(
        &self,
        desktop_id: &str,
        key: &str,
        value: &str,
    ) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        check_arg("tag key", key).map_err(not_sent)?;
        let body = wire::CreateTagRequest {
            tag: wire::TagRef {
                key,
                value: Some(value),
            },
        };
        let mut call = Call::new(Method::POST, &["desktops", desktop_id, "tags"]);
        call.body = to_json(&body);
        self.send(&call).await
    }

    /// Deletes one tag (`DELETE …/desktops/{id}/tags/{key}`, the key percent-encoded).
    pub async fn delete_tag(&self, desktop_id: &str, key: &str) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        check_arg("tag key", key).map_err(not_sent)?;
        let call = Call::new(Method::DELETE, &["desktops", desktop_id, "tags", key]);
        self.send(&call).await
    }

    /// Creates or deletes several tags of one desktop in one call (`POST …/tags/action`).
    /// For [`TagAction::Delete`] only the keys are sent.
    pub async fn change_tags(
        &self,
        desktop_id: &str,
        action: TagAction,
        tags: &Tags,
    ) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        let body = wire::ChangeTagsRequest {
            action: action.as_str(),
            tags: wire::tag_refs(tags, action == TagAction::Create),
        };
        let mut call = Call::new(Method::POST, &["desktops", desktop_id, "tags", "action"]);
        call.body = to_json(&body);
        self.send(&call).await
    }

    /// Creates or overwrites tags on up to [`BATCH_MAX_DESKTOPS`] desktops in one call
    /// (`POST /v2/{project_id}/desktops/batch-tags`). The service silently skips unknown desktop
    /// ids and reports nothing per desktop: read back to verify.
    pub async fn batch_create_tags(&self, items: &[DesktopTags]) -> Result<Attempts, CallError> {
        self.send_batch(Method::POST, TagAction::Create, items)
            .await
    }

    /// Deletes keys on up to [`BATCH_MAX_DESKTOPS`] desktops in one call
    /// (`DELETE /v2/{project_id}/desktops/batch-tags` with a JSON body; keys only).
    pub async fn batch_delete_tags(&self, items: &[DesktopTags]) -> Result<Attempts, CallError> {
        self.send_batch(Method::DELETE, TagAction::Delete, items)
            .await
    }

    /// `doctor`'s harmless probe of the batch permission: `POST …/desktops/batch-tags` with no
    /// desktop, which changes nothing. A 403 means the batch calls are refused; any other
    /// refusal (the service rejects an empty batch) means the permission check passed.
    pub async fn probe_batch_permission(&self) -> Result<(), ApiError> {
        let mut call = Call::new(Method::POST, &["desktops", "batch-tags"]);
        call.body = br#"{"desktops":[]}"#.to_vec();
        match self.exec.execute(&call).await {
            Ok(_) => Ok(()),
            Err(e)
                if e.error
                    .status()
                    .is_some_and(|s| s != 403 && (400..500).contains(&s)) =>
            {
                Ok(())
            }
            Err(e) => Err(e.error),
        }
    }

    async fn send_batch(
        &self,
        method: Method,
        action: TagAction,
        items: &[DesktopTags],
    ) -> Result<Attempts, CallError> {
        if items.is_empty() {
            return Err(not_sent(ApiError::InvalidArgument(
                "a batch needs at least one desktop".to_string(),
            )));
        }
        if items.len() > BATCH_MAX_DESKTOPS {
            return Err(not_sent(ApiError::InvalidArgument(format!(
                "a batch carries at most {BATCH_MAX_DESKTOPS} desktops, not {}",
                items.len()
            ))));
        }
        for item in items {
            check_arg("desktop id", &item.desktop_id).map_err(not_sent)?;
            if item.tags.is_empty() || item.tags.len() > BATCH_MAX_TAGS {
                return Err(not_sent(ApiError::InvalidArgument(format!(
                    "a batch carries 1 to {BATCH_MAX_TAGS} tags per desktop, not {} for {}",
                    item.tags.len(),
                    item.desktop_id
                ))));
            }
        }
        let body = wire::BatchTagsRequest {
            desktops: items
                .iter()
                .map(|item| wire::DesktopTagsInfo {
                    desktop_id: &item.desktop_id,
                    tags: wire::tag_refs(&item.tags, action == TagAction::Create),
                })
                .collect(),
        };
        let mut call = Call::new(method, &["desktops", "batch-tags"]);
        call.body = to_json(&body);
        self.send(&call).await
    }

    async fn send(&self, call: &Call) -> Result<Attempts, CallError> {
        self.exec.execute(call).await.map(|(_, attempts)| attempts)
    }
}

fn check_arg(what: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        Err(ApiError::InvalidArgument(format!("the {what} is empty")))
    } else {
        Ok(())
    }
}

fn not_sent(error: ApiError) -> CallError {
    CallError { error, attempts: 0 }
}

fn to_json(body: &impl serde::Serialize) -> Vec<u8> {
    // Serialising these plain structs of strings cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}
