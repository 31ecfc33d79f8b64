package importer

import (
	"context"
	"errors"
	"io"
)

// Stats counts the rows of an import: every row read, good or bad, is in
// Rows; Imported were accepted by the server; Rejected were bad rows or
// rejected by the server. Rows - Imported - Rejected were not sent because
// the import stopped.
type Stats struct {
	Rows, Imported, Rejected int
}

// Import reads every record of r and sends them with s in batches of at most
// batchSize records and s.MaxBatchBytes bytes, one batch at a time so that
// the server sees the rows in file order. Each bad row and rejected message
// is passed to report; progress, if not nil, gets the counts after each row
// and each batch, and must be cheap. The error is non-nil only when the
// import had to stop: r could not be read, or s.Send failed; the counts say
// how far it got.
func Import(ctx context.Context, r Reader, s *Sender, batchSize int, report func(RowError), progress func(Stats)) (Stats, error) {
	batchSize = max(batchSize, 1)
	var st Stats
	var b Batch
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		res, err := s.Send(ctx, &b)
		st.Imported += res.Imported
		st.Rejected += len(res.Failed)
		for _, f := range res.Failed {
			report(f)
		}
		b.Reset()
		if progress != nil {
			progress(st)
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		line, payload, err := r.Next()
		var re *RowError
		switch {
		case errors.Is(err, io.EOF):
			return st, flush()
		case errors.As(err, &re):
			st.Rows++
			st.Rejected++
			report(*re)
			if progress != nil {
				progress(st)
			}
			continue
		case err != nil:
			if ferr := flush(); ferr != nil {
				return st, ferr
			}
			return st, err
		}
		if b.Len() > 0 && b.Bytes+len(payload) > s.MaxBatchBytes {
			if err := flush(); err != nil {
				return st, err
			}
		}
		st.Rows++
		b.Add(line, payload)
		if b.Len() >= batchSize {
			// Send as soon as full, so that rejections are reported close to
			// the bad rows read around them.
			if err := flush(); err != nil {
				return st, err
			}
		} else if progress != nil {
			progress(st)
		}
	}
}
