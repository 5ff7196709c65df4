//! The emulator's JSON bodies: what the tag APIs accept (`*In`) and answer (`*Out`), in the
//! service's field names.

use serde::{Deserialize, Serialize};

use super::EmulatedDesktop;

#[derive(Deserialize)]
pub(super) struct TagIn {
    pub(super) key: String,
    #[serde(default)]
    pub(super) value: Option<String>,
}

impl TagIn {
    pub(super) fn into_pair(self) -> (String, String) {
        (self.key, self.value.unwrap_or_default())
    }
}

#[derive(Deserialize)]
pub(super) struct CreateTagIn {
    pub(super) tag: TagIn,
}

#[derive(Deserialize)]
pub(super) struct BatchIn {
    #[serde(default)]
    pub(super) action: Option<String>,
    #[serde(default)]
    pub(super) tags: Option<Vec<TagIn>>,
}

/// The body of both cross-desktop batch calls.
#[derive(Deserialize)]
pub(super) struct DesktopsTagsIn {
    pub(super) desktops: Vec<DesktopTagsIn>,
}

#[derive(Deserialize)]
pub(super) struct DesktopTagsIn {
    pub(super) desktop_id: String,
    pub(super) tags: Vec<TagIn>,
}

#[derive(Serialize)]
pub(super) struct TagOut<'a> {
    pub(super) key: &'a str,
    pub(super) value: &'a str,
}

impl<'a> From<&'a (String, String)> for TagOut<'a> {
    fn from((key, value): &'a (String, String)) -> Self {
        TagOut { key, value }
    }
}

#[derive(Serialize)]
pub(super) struct TagsOut<'a> {
    pub(super) tags: Vec<TagOut<'a>>,
}

#[derive(Serialize)]
pub(super) struct DesktopOut<'a> {
    pub(super) desktop_id: &'a str,
    pub(super) computer_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) enterprise_project_id: Option<&'a str>,
    pub(super) status: &'a str,
    pub(super) tags: Vec<TagOut<'a>>,
}

impl<'a> From<&'a EmulatedDesktop> for DesktopOut<'a> {
    fn from(d: &'a EmulatedDesktop) -> Self {
        DesktopOut {
            desktop_id: &d.id,
            computer_name: &d.name,
            user_name: d.user.as_deref(),
            enterprise_project_id: d.enterprise_project_id.as_deref(),
            status: &d.status,
            tags: d
                .tags
                .iter()
                .map(|(key, value)| TagOut { key, value })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct ListOut<'a> {
    pub(super) total_count: usize,
    pub(super) desktops: Vec<DesktopOut<'a>>,
}
