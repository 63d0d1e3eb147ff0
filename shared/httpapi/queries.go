package httpapi

import (
	"net/http"
)

// Queries is what the API reads from the read models. The read-model package
// implements it; the API owns the interface.
type Queries interface{}

func (s *Server) listPortfolios(w http.ResponseWriter, r *http.Request) error   { return errNotYet }
func (s *Server) getPortfolio(w http.ResponseWriter, r *http.Request) error     { return errNotYet }
func (s *Server) positions(w http.ResponseWriter, r *http.Request) error        { return errNotYet }
func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (s *Server) getTargets(w http.ResponseWriter, r *http.Request) error       { return errNotYet }

var errNotYet = newError(http.StatusNotImplemented, "not_implemented", "not yet", nil)
