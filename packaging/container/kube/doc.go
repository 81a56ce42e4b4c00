// Package kube holds a test of the README's Kubernetes example: the Deployment and Service
// decode strictly as Kubernetes objects, their container's command line is one cgihttpd
// accepts, and the settings that must agree (ports, probes, grace periods, capabilities) do.
// It is a module of its own so that the Kubernetes API types are no dependency of cgihttpd;
// .ci/container.sh runs it.
package kube
