"""Problems and candidates for the verifier tests, as source text (never imported as code)."""
