package auth

// Keys of the context the authorizer returns to API Gateway. API Gateway hands it
// to the integrations: for the HTTP API at requestContext.authorizer.lambda.<key>,
// for the WebSocket API at requestContext.authorizer.<key> (see functions/edge/authctx).
const (
	ContextKeyUserID = "userId"
	ContextKeyRole   = "role"
)
