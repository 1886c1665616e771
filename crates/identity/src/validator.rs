//! The in-process token validator other services use when they run in the
//! same process as identity: no HTTP, and the identity cache's invalidation
//! (revocations, role changes) applies at once.

use std::sync::Arc;

use rustack_common::{Error, ErrorKind};
use rustack_http::token_layer::{BoxFuture, TokenValidator};
use rustack_http::RequestContext;

use crate::Identity;

impl TokenValidator for Identity {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<RequestContext>, Error>> {
        Box::pin(async move {
            match self.validate_token(token).await {
                Ok(t) => Ok(t.context.clone()),
                Err(e) if e.kind == ErrorKind::NotFound || e.kind == ErrorKind::Unauthorized => {
                    Err(Error::unauthorized("The request you have made requires authentication."))
                }
                Err(e) => Err(e),
            }
        })
    }
}

impl Identity {
    /// This service as a validator for the other services' routers.
    pub fn validator(&self) -> Arc<dyn TokenValidator> {
        Arc::new(self.clone())
    }
}

impl rustack_http::service::LimitLookup for Identity {
    fn limit<'a>(
        &'a self,
        project_id: &'a str,
        service: &'a str,
        resource_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        Box::pin(self.limit_for(project_id, service, resource_name))
    }
}

impl Identity {
    /// Unified limits, for the other services in this process.
    pub fn limits(&self) -> Arc<dyn rustack_http::service::LimitLookup> {
        Arc::new(self.clone())
    }
}
