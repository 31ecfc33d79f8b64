package message

import "encoding/json"

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonValid(b []byte) bool { return json.Valid(b) }
