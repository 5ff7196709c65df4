//! Which proxy a request to a URL goes through, as reqwest decides it from `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper or lower case), for logs and `doctor`. Pure:
//! the environment is an argument. A proxy's user name and password are never shown.

use url::Url;

/// The proxy a URL is sent through, or why none is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Through this proxy (user info redacted), named by the variable that set it.
    Proxy { variable: String, proxy: String },
    /// Direct, because `NO_PROXY` (or `no_proxy`) lists the host.
    Bypassed { variable: String },
    /// Direct: the endpoint is loopback (desktag never proxies the local emulator).
    Loopback,
    /// Direct: no proxy variable applies.
    Direct,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Proxy { variable, proxy } => write!(f, "{proxy} (from {variable})"),
            Route::Bypassed { variable } => write!(f, "none ({variable} lists the host)"),
            Route::Loopback => write!(f, "none (loopback endpoint)"),
            Route::Direct => write!(f, "none (HTTPS_PROXY, HTTP_PROXY and ALL_PROXY are unset)"),
        }
    }
}

fn lookup(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<(String, String)> {
    [name.to_string(), name.to_ascii_lowercase()]
        .into_iter()
        .find_map(|n| env(&n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
}

/// The route of a request to `url`.
pub fn route(url: &Url, env: &dyn Fn(&str) -> Option<String>) -> Route {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    if url
        .host()
        .is_some_and(|h| crate::connection::is_loopback(&h))
    {
        return Route::Loopback;
    }
    if let Some((variable, list)) = lookup(env, "NO_PROXY") {
        let listed = list.split(',').map(str::trim).any(|entry| {
            let entry = entry.trim_start_matches('.');
            entry == "*"
                || (!entry.is_empty()
                    && (host.eq_ignore_ascii_case(entry)
                        || host
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", entry.to_ascii_lowercase()))))
        });
        if listed {
            return Route::Bypassed { variable };
        }
    }
    let scheme_variable = if url.scheme() == "https" {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    };
    match lookup(env, scheme_variable).or_else(|| lookup(env, "ALL_PROXY")) {
        Some((variable, proxy)) => Route::Proxy {
            variable,
            proxy: redact(&proxy),
        },
        None => Route::Direct,
    }
}

/// `http://user:pw@proxy:3128` → `http://***@proxy:3128`.
fn redact(proxy: &str) -> String {
    match Url::parse(proxy) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_password(None);
            let _ = url.set_username("***");
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => match proxy.rfind('@') {
            Some(at) => format!("***{}", &proxy[at..]),
            None => proxy.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_with(url: &str, pairs: &[(&str, &str)]) -> Route {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        route(&Url::parse(url).unwrap(), &env)
    }

    #[test]
    fn https_uses_https_proxy_and_hides_its_password() {
        let r = route_with(
            "https://workspace.cn-north-4.myhuaweicloud.com",
            &[("https_proxy", "http://alice:s3cret@proxy.corp:3128")],
        );
        assert_eq!(
            r,
            Route::Proxy {
                variable: "https_proxy".into(),
                proxy: "http://***@proxy.corp:3128/".into()
            }
        );
        assert!(!r.to_string().contains("s3cret"));
    }

    #[test]
    fn no_proxy_suffixes_and_loopback_go_direct() {
        let env = [
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "localhost,.myhuaweicloud.com"),
        ];
        assert!(matches!(
            route_with("https://iam.myhuaweicloud.com", &env),
            Route::Bypassed { .. }
        ));
        assert_eq!(route_with("http://127.0.0.1:8080", &env), Route::Loopback);
        assert!(matches!(
            route_with("https://example.com", &env),
            Route::Proxy { .. }
        ));
        assert_eq!(route_with("https://example.com", &[]), Route::Direct);
    }
}
