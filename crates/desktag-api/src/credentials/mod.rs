//! Credentials from the sources the official SDKs read, in their order: `chain` decides the
//! source (pure), `lease` parses temporary credentials and times their renewal (pure), `fetch`
//! asks the identity services (IAM OIDC exchange, CCE Pod Identity, ECS metadata, the IAM
//! project lookup), and `keys` holds a client's credentials and renews them, once for all
//! workers. `connect` runs it all for a resolved connection.

pub mod chain;
pub mod fetch;
pub mod keys;
pub mod lease;

use std::sync::Arc;

use super::connection::{Connection, ConnectionError, ProjectRef, Resolved};
pub use chain::{Choice, Chosen, Fetch, IdToken, Tried};
pub use fetch::{FetchError, Fetcher};
pub use keys::Keys;
pub use lease::Lease;

/// A connection with its credentials in hand and the project known.
#[derive(Debug)]
pub struct Connected {
    pub connection: Connection,
    pub keys: Arc<Keys>,
    /// How the project id was found: `--project-id`, `looked up from region cn-north-4`, …
    pub project_origin: String,
    /// Where refusals are decoded (`--decode-denials`).
    pub sts_endpoint: url::Url,
}

/// Fetches the chosen credentials (if the source is a temporary one) and looks the project up
/// from the region when no id was given.
pub async fn connect(resolved: Resolved, fetcher: &Fetcher) -> Result<Connected, ConnectionError> {
    let Resolved {
        endpoint,
        project,
        chosen,
        iam_endpoint,
        sts_endpoint,
        ..
    } = resolved;
    let keys = match chosen.choice {
        Choice::Static(credentials) => Keys::fixed(credentials),
        Choice::Fetch(source) => Keys::fetch(source, fetcher.clone())
            .await
            .map_err(|error| ConnectionError::Fetch {
                error,
                tried: chosen.tried,
            })?,
    };
    let credentials = keys.current().credentials.clone();
    let (project_id, project_origin) = match project {
        ProjectRef::Given { id, origin } => (id, origin.to_string()),
        ProjectRef::FromRegion { region, origin } => {
            let id = fetcher
                .project_of_region(&iam_endpoint, &region, &credentials)
                .await
                .map_err(|message| ConnectionError::ProjectLookup {
                    region: region.clone(),
                    origin: origin.to_string(),
                    message,
                })?;
            if desktag_core::tags::check_project_id(&id).is_err() {
                return Err(ConnectionError::ProjectLookup {
                    region,
                    origin: origin.to_string(),
                    message: "IAM answered with a project id that is not valid".to_string(),
                });
            }
            tracing::info!(%region, project = %id, iam = %iam_endpoint, "looked up the project of the region");
            (
                id,
                format!("looked up from region `{region}` at {iam_endpoint}"),
            )
        }
    };
    Ok(Connected {
        connection: Connection {
            endpoint,
            project_id,
            credentials,
        },
        keys: Arc::new(keys),
        project_origin,
        sts_endpoint,
    })
}
