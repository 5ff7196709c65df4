//! Desktop reads: the project-wide listing (1,000 per page) and reads by id (≤100 ids per
//! request), and [`Client::read_desktops`], which picks the cheaper of the two per call. Every
//! listing is checked against what the API promises: `total_count` and `desktops` present, no
//! desktop twice, no more desktops than `total_count`, no endless paging.

use std::collections::BTreeSet;

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
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let by_id_requests = wanted.len().div_ceil(IDS_PER_REQUEST) as u64;
        if by_id_requests <= 1 {
            return self.read_by_id(&wanted).await;
        }
        let first_call = page_call(&[], 0);
        let first = self.fetch_page(&first_call).await?;
        let list_requests = first.total.div_ceil(PAGE_LIMIT).max(1);
        if list_requests > by_id_requests {
            tracing::debug!(
                ids = wanted.len(),
                total = first.total,
                requests = by_id_requests,
                "reading desktops by id"
            );
            return self.read_by_id(&wanted).await;
        }
        tracing::debug!(
            ids = wanted.len(),
            total = first.total,
            requests = list_requests,
            "reading desktops by listing the project"
        );
        if first.total > MAX_LISTED_DESKTOPS {
            return Err(self.paging_error(
                &first_call,
                format!(
                    "the service says it has {} desktops, more than {MAX_LISTED_DESKTOPS}",
                    first.total
                ),
            ));
        }
        let total = first.total;
        let rest = (1..list_requests).map(|k| async move {
            let offset = k * PAGE_LIMIT;
            let call = page_call(&[], offset);
            self.fetch_page(&call).await.map(|page| (offset, page))
        });
        let rest = futures::future::try_join_all(rest).await?;
        let mut listing = Listing::default();
        listing.add(0, first.desktops);
        for (offset, page) in rest {
            listing.add(offset, page.desktops);
        }
        let mut listed = listing.into_sorted().map_err(|ListedTwice(offset, id)| {
            self.repeated(&page_call(&[], offset), offset, &id)
        })?;
        if listed.len() as u64 > total {
            return Err(self.paging_error(
                &first_call,
                format!(
                    "the service sent {} desktops but its total_count is {total}",
                    listed.len()
                ),
            ));
        }
        let complete = listed.len() as u64 == total;
        listed.retain(|d| wanted.contains(d.id.as_str()));
        if !complete {
            // The project changed while it was paged (or a page came back short): read the
            // selected desktops the listing missed by id rather than report them absent.
            let missing: BTreeSet<&str> = wanted
                .iter()
                .copied()
                .filter(|id| find(&listed, id).is_err())
                .collect();
            listed.extend(self.read_by_id(&missing).await?);
            listed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        }
        listed.shrink_to_fit();
        Ok(listed)
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
            found.add(offset, page.desktops);
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
        found.into_sorted().map_err(|ListedTwice(offset, id)| {
            self.repeated(&page_call(&extra, offset), offset, &id)
        })
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

/// The index of the desktop `id` in desktops sorted by id.
fn find(sorted: &[Desktop], id: &str) -> Result<usize, usize> {
    sorted.binary_search_by(|d| d.id.as_str().cmp(id))
}

/// A desktop id the service listed twice, and the offset of the page that listed it again.
struct ListedTwice(u64, String);

/// The pages of one listing as they came, by offset. Checked once complete: pages are moved into
/// one vector sorted by id, with no map of every id beside the desktops themselves.
#[derive(Default)]
struct Listing {
    pages: Vec<(u64, Vec<Desktop>)>,
}

impl Listing {
    /// The page at `offset`; pages are added in offset order.
    fn add(&mut self, offset: u64, desktops: Vec<Desktop>) {
        self.pages.push((offset, desktops));
    }

    /// Every desktop, sorted by id. A desktop listed twice is an error naming the first page, in
    /// offset order, that listed a desktop a second time.
    fn into_sorted(self) -> Result<Vec<Desktop>, ListedTwice> {
        let count = self.pages.iter().map(|(_, page)| page.len()).sum();
        // (id, position in listing order): equal ids sort by where they were listed.
        let mut ids: Vec<(&str, usize)> = Vec::with_capacity(count);
        for desktop in self.pages.iter().flat_map(|(_, page)| page) {
            ids.push((&desktop.id, ids.len()));
        }
        ids.sort_unstable();
        let again = ids
            .windows(2)
            .filter(|pair| pair[0].0 == pair[1].0)
            .min_by_key(|pair| pair[1].1)
            .map(|pair| (pair[1].0.to_string(), pair[1].1));
        drop(ids);
        if let Some((id, mut position)) = again {
            for (offset, page) in &self.pages {
                if position < page.len() {
                    return Err(ListedTwice(*offset, id));
                }
                position -= page.len();
            }
        }
        let mut all = Vec::with_capacity(count);
        for (_, page) in self.pages {
            all.extend(page);
        }
        all.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str]) -> Vec<Desktop> {
        ids.iter().map(|id| Desktop::new(id, "", &[])).collect()
    }

    #[test]
    fn pages_come_out_as_one_list_sorted_by_id() {
        let mut listing = Listing::default();
        listing.add(0, page(&["c", "a"]));
        listing.add(2, page(&["d", "b"]));
        let ids: Vec<String> = match listing.into_sorted() {
            Ok(all) => all.into_iter().map(|d| d.id).collect(),
            Err(ListedTwice(offset, id)) => panic!("{id} at {offset}"),
        };
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert!(matches!(Listing::default().into_sorted(), Ok(v) if v.is_empty()));
    }

    #[test]
    fn a_desktop_listed_twice_names_the_first_page_that_repeats_one() {
        let mut listing = Listing::default();
        listing.add(0, page(&["a", "b", "c"]));
        listing.add(3, page(&["d", "e"]));
        // `e` again here, then `a` (listed earlier still, but repeated later).
        listing.add(5, page(&["e", "a", "f"]));
        listing.add(8, page(&["b"]));
        match listing.into_sorted() {
            Err(ListedTwice(offset, id)) => assert_eq!((offset, id.as_str()), (5, "e")),
            Ok(_) => panic!("a repeated desktop was accepted"),
        }
        let mut within = Listing::default();
        within.add(0, page(&["x", "y"]));
        within.add(2, page(&["z", "z"]));
        assert!(matches!(within.into_sorted(), Err(ListedTwice(2, id)) if id == "z"));
    }
}
