// Package e2e holds end-to-end tests that run otp.Verifier and
// totp.Validator against store/redisstore (on miniredis, and on real Redis
// servers when REDIS_URL / REDIS_CLUSTER_ADDRS are set).
//
// They live here, not beside otp and otp/totp, because a package's test
// imports are part of what a module that imports that package records in its
// go.sum: kept in otp's own tests, they would put go-redis and miniredis into
// every consumer's go.sum. Nothing imports this package.
package e2e
