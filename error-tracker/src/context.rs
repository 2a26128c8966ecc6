//! The request context of the current task or thread, set by the web
//! integrations and read by the capture path.

use crate::occurrence::RequestContext;

/// The request being served on this task or thread, if a web integration set one.
pub(crate) fn current_request() -> Option<RequestContext> {
    None
}
