//! Desktop reads: the project-wide listing (1,000 per page) and reads by id (≤100 ids per
//! request), and [`Client::read_desktops_each`] (collected by [`Client::read_desktops`]), which
//! picks the cheaper of the two per call. Every listing is checked against what the API
//! promises: `total_count` and `desktops` present, no desktop twice, no more desktops than
//! `total_count`, no endless paging.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, RandomState};

use futures::StreamExt;
use reqwest::Method;

use super::client::Client;
use super::error::ApiError;
use super::transport::Call;
use super::wire;
use desktag_core::inventory::{Desktop, Inventory};

/// Page size of `GET /v2/{project_id}/desktops` (the API's maximum).
pub(crate) const PAGE_LIMIT: u64 = 1000;
/// Most `desktop_id` filters one list request may carry.
pub(crate) const IDS_PER_REQUEST: usize = 100;
/// Most pages one listing follows, and most desktops it collects: far above any real project, so
/// only a service that pages forever (new ids, a huge `total_count`) reaches them.
pub(crate) const MAX_PAGES: u32 = 1000;
pub(crate) const MAX_LISTED_DESKTOPS: u64 = 1_000_000;
/// Pages of a streamed read (`read_desktops_each`) fetched at once; the client's permits and
/// rate bound the requests in flight in any case.
const IN_FLIGHT_PAGES: usize = 8;

/// One checked page of a listing.
struct Page {
    total: u64,
    desktops: Vec<Desktop>,
}

impl Client {
    /// Every desktop of the project (paged with `limit=1000`), sorted by id.
    pub async fn list_desktops(&self) -> Result<Vec<Desktop>, ApiError> {
        self.list_pages(Vec::new()).await
    }

    /// The desktops with these ids that exist, sorted by id, in as few requests as possible: by
    /// id (≤100 ids per request) for a small selection; for a larger one the first page of the
    /// whole listing tells the project's size, and when listing it (1,000 per page) takes fewer
    /// requests, the rest of the pages are read instead. Requests run concurrently within the
    /// client's concurrency bound and rate.
    pub async fn read_desktops(&self, ids: &[String]) -> Result<Vec<Desktop>, ApiError> {
        let mut found = Vec::new();
        self.read_desktops_each(ids, |desktop| found.push(desktop))
            .await?;
        found.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        found.shrink_to_fit();
        Ok(found)
    }

    /// The desktops with these ids that exist, as [`Client::read_desktops`] reads them, each
    /// handed to `each` as its page arrives instead of collected: a read-back of 100,000
    /// desktops never holds them all. The listing's checks are the same (a desktop listed twice,
    /// more desktops than `total_count`); an error can come after some desktops were handed
    /// over, and those are as the service listed them.
    pub async fn read_desktops_each(
        &self,
        ids: &[String],
        mut each: impl FnMut(Desktop),
    ) -> Result<(), ApiError> {
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let by_id_requests = wanted.len().div_ceil(IDS_PER_REQUEST) as u64;
        if by_id_requests <= 1 {
            self.read_by_id(&wanted).await?.into_iter().for_each(each);
            return Ok(());
        }
        let first_call = page_call(&[], 0);
        let first = self.fetch_page(&first_call).await?;
        let total = first.total;
        let list_requests = total.div_ceil(PAGE_LIMIT).max(1);
        if list_requests > by_id_requests {
            tracing::debug!(
                ids = wanted.len(),
                total,
                requests = by_id_requests,
                "reading desktops by id"
            );
            self.read_by_id(&wanted).await?.into_iter().for_each(each);
            return Ok(());
        }
        tracing::debug!(
            ids = wanted.len(),
            total,
            requests = list_requests,
            "reading desktops by listing the project"
        );
        if total > MAX_LISTED_DESKTOPS {
            return Err(self.paging_error(
                &first_call,
                format!(
                    "the service says it has {total} desktops, more than {MAX_LISTED_DESKTOPS}"
                ),
            ));
        }
        // Every id listed (a desktop listed twice is refused), and the wanted ones not seen yet.
        let mut listed = Seen::default();
        let mut missing = wanted.clone();
        let mut take = |offset: u64, desktops: Vec<Desktop>| -> Result<(), ApiError> {
            for desktop in desktops {
                if !listed.insert(&desktop.id) {
                    return Err(self.repeated(&page_call(&[], offset), offset, &desktop.id));
                }
                if missing.remove(desktop.id.as_str()) {
                    each(desktop);
                }
            }
            Ok(())
        };
        take(0, first.desktops)?;
        // In offset order, so a repeat is reported on the later page.
        let mut rest = futures::stream::iter(1..list_requests)
            .map(|k| async move {
                let offset = k * PAGE_LIMIT;
                self.fetch_page(&page_call(&[], offset))
                    .await
                    .map(|page| (offset, page.desktops))
            })
            .buffered(IN_FLIGHT_PAGES);
        while let Some(page) = rest.next().await {
            let (offset, desktops) = page?;
            take(offset, desktops)?;
        }
        if listed.len() as u64 > total {
            return Err(self.paging_error(
                &first_call,
                format!(
                    "the service sent {} desktops but its total_count is {total}",
                    listed.len()
                ),
            ));
        }
        if !missing.is_empty() && (listed.len() as u64) < total {
            // The project changed while it was paged (or a page came back short): read the
            // selected desktops the listing missed by id rather than report them absent.
            self.read_by_id(&missing).await?.into_iter().for_each(each);
        }
        Ok(())
    }

    /// Reads `wanted` by id, ≤100 per request, the requests running concurrently.
    async fn read_by_id(&self, wanted: &BTreeSet<&str>) -> Result<Vec<Desktop>, ApiError> {
        let wanted_list: Vec<&str> = wanted.iter().copied().collect();
        let reads = wanted_list.chunks(IDS_PER_REQUEST).map(|chunk| {
            let query = chunk
                .iter()
                .map(|id| ("desktop_id".to_string(), id.to_string()))
                .collect();
            self.list_pages(query)
        });
        let pages = futures::future::try_join_all(reads).await?;
        let mut found: Vec<Desktop> = pages.into_iter().flatten().collect();
        // A service that ignored the filter must not make other desktops look selected.
        found.retain(|d| wanted.contains(d.id.as_str()));
        Ok(Inventory::new(found).into_iter().collect())
    }

    /// Pages `GET /v2/{project_id}/desktops` with `extra` filters until `offset >= total_count`
    /// or an empty page. A service that lists a desktop twice, sends more desktops than its own
    /// `total_count`, or pages past `MAX_PAGES` / `MAX_LISTED_DESKTOPS` is an error, not a loop.
    async fn list_pages(&self, extra: Vec<(String, String)>) -> Result<Vec<Desktop>, ApiError> {
        let mut found = Listing::default();
        let mut offset: u64 = 0;
        let mut pages: u32 = 0;
        loop {
            let call = page_call(&extra, offset);
            if pages == MAX_PAGES {
                return Err(self.paging_error(
                    &call,
                    format!("the service was still sending desktops after {MAX_PAGES} pages"),
                ));
            }
            pages += 1;
            let page = self.fetch_page(&call).await?;
            if page.desktops.is_empty() {
                break;
            }
            let count = page.desktops.len() as u64;
            found
                .add(page.desktops)
                .map_err(|ListedTwice(id)| self.repeated(&call, offset, &id))?;
            offset = offset.saturating_add(count);
            if offset > MAX_LISTED_DESKTOPS {
                return Err(self.paging_error(
                    &call,
                    format!("the service sent more than {MAX_LISTED_DESKTOPS} desktops"),
                ));
            }
            if offset > page.total {
                return Err(self.paging_error(
                    &call,
                    format!(
                        "the service sent {offset} desktops but its total_count is {}",
                        page.total
                    ),
                ));
            }
            if offset == page.total {
                break;
            }
        }
        Ok(found.into_sorted())
    }

    /// One page, checked: a 2xx without `total_count` or `desktops` (`{}`, nulls) is not an
    /// empty project but an answer that lacks what the API promises; so is an empty desktop id.
    async fn fetch_page(&self, call: &Call) -> Result<Page, ApiError> {
        let exec = &self.exec;
        let (answer, _) = exec.execute(call).await.map_err(|e| e.error)?;
        let what = "list of desktops";
        let page: wire::ListDesktopsResponse = exec.transport.decode(call, &answer, what)?;
        let lacking = |field: &str| {
            exec.transport.decode_error(
                call,
                &answer,
                what,
                format!("`{field}` is missing or null"),
            )
        };
        let total = page.total_count.ok_or_else(|| lacking("total_count"))?;
        let desktops = page.desktops.ok_or_else(|| lacking("desktops"))?;
        if desktops.iter().any(|d| d.desktop_id.is_empty()) {
            return Err(exec.transport.decode_error(
                call,
                &answer,
                what,
                "a desktop has an empty desktop_id".to_string(),
            ));
        }
        Ok(Page {
            total,
            desktops: desktops.into_iter().map(Desktop::from).collect(),
        })
    }

    fn repeated(&self, call: &Call, offset: u64, id: &str) -> ApiError {
        self.paging_error(
            call,
            format!("the page at offset {offset} listed desktop {id} a second time"),
        )
    }

    fn paging_error(&self, call: &Call, detail: String) -> ApiError {
        ApiError::Paging {
            path: self.exec.transport.display_path(call),
            detail: self.exec.transport.scrub(detail),
        }
    }
}

/// `GET …/desktops?…&limit=1000&offset=N`.
impl Client {
    /// The cheapest signed read: one desktop of the listing (`limit=1`), for `doctor`. Returns
    /// the project's desktop count.
    pub async fn count_desktops(&self) -> Result<u64, ApiError> {
        let mut call = Call::new(Method::GET, &["desktops"]);
        call.query = vec![
            ("limit".to_string(), "1".to_string()),
            ("offset".to_string(), "0".to_string()),
        ];
        Ok(self.fetch_page(&call).await?.total)
    }
}

fn page_call(extra: &[(String, String)], offset: u64) -> Call {
    let mut call = Call::new(Method::GET, &["desktops"]);
    call.query = extra.to_vec();
    call.query
        .push(("limit".to_string(), PAGE_LIMIT.to_string()));
    call.query.push(("offset".to_string(), offset.to_string()));
    call
}

/// The ids a listing has seen, kept as 128-bit hashes with random keys rather than as the ids
/// themselves: a streamed listing hands its desktops on, and a collected one need not hold
/// every id twice. Two ids collide with a probability near 2^-128 per pair; a collision would
/// refuse the listing, never accept a repeat.
#[derive(Default)]
struct Seen {
    hashes: HashSet<(u64, u64)>,
    keys: (RandomState, RandomState),
}

impl Seen {
    /// False when `id` was seen before.
    fn insert(&mut self, id: &str) -> bool {
        let (a, b) = &self.keys;
        self.hashes.insert((a.hash_one(id), b.hash_one(id)))
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// A desktop id the service listed twice.
struct ListedTwice(String);

/// The pages of one listing as they came, in offset order, refusing a desktop listed twice as
/// soon as its page comes (a service that ignores `offset` is not paged to the end). Once
/// complete, the pages are moved into one vector sorted by id.
#[derive(Default)]
struct Listing {
    pages: Vec<Vec<Desktop>>,
    seen: Seen,
}

impl Listing {
    /// The next page.
    fn add(&mut self, desktops: Vec<Desktop>) -> Result<(), ListedTwice> {
        if let Some(twice) = desktops.iter().find(|d| !self.seen.insert(&d.id)) {
            return Err(ListedTwice(twice.id.clone()));
        }
        self.pages.push(desktops);
        Ok(())
    }

    fn len(&self) -> usize {
        self.seen.len()
    }

    /// Every desktop, sorted by id.
    fn into_sorted(self) -> Vec<Desktop> {
        let mut all = Vec::with_capacity(self.len());
        for page in self.pages {
            all.extend(page);
        }
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str]) -> Vec<Desktop> {
        ids.iter().map(|id| Desktop::new(id, "", &[])).collect()
    }

    #[test]
    fn a_streamed_listing_sees_a_repeat_and_only_a_repeat() {
        let mut seen = Seen::default();
        let ids: Vec<String> = (0..10_000).map(|i| format!("d-{i:05}")).collect();
        assert!(ids.iter().all(|id| seen.insert(id)));
        assert!(!seen.insert("d-04711"));
        assert!(seen.insert("d-10000"));
        assert_eq!(seen.len(), 10_001);
    }

    fn refused(result: Result<(), ListedTwice>) -> String {
        match result {
            Err(ListedTwice(id)) => id,
            Ok(()) => panic!("a repeated desktop was accepted"),
        }
    }

    #[test]
    fn pages_come_out_as_one_list_sorted_by_id() {
        let mut listing = Listing::default();
        assert!(listing.add(page(&["c", "a"])).is_ok());
        assert!(listing.add(page(&["d", "b"])).is_ok());
        assert_eq!(listing.len(), 4);
        let ids: Vec<String> = listing.into_sorted().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert!(Listing::default().into_sorted().is_empty());
    }

    #[test]
    fn a_desktop_listed_twice_is_refused_with_the_first_repeat() {
        let mut listing = Listing::default();
        assert!(listing.add(page(&["a", "b", "c"])).is_ok());
        assert!(listing.add(page(&["d", "e"])).is_ok());
        assert_eq!(refused(listing.add(page(&["f", "b", "a"]))), "b");
        let mut within = Listing::default();
        assert!(within.add(page(&["x", "y"])).is_ok());
        assert_eq!(refused(within.add(page(&["z", "w", "z"]))), "z");
    }
}
