"""Human approval: opaque ids, the token store, the confirmation page and the decision.

The link a human gets carries only a random id; the Step Functions task token stays in
DynamoDB under the id's SHA-256. GET shows a confirmation page and changes nothing;
only a POST with the page's nonce (an HMAC bound to the id and expiry) decides, once,
through a conditional write.
"""
