package reading

import "encoding/json"

// Item is a reading with the ID of the event that carried it, as the JSON
// API answers it: {"id":…, "data":…, "celsius":…, "sensor":…, "at":…}.
type Item struct {
	ID string `json:"id"`
	Reading
}

// ParseItem decodes the data of a temperature event with ID id.
func ParseItem(id string, data []byte) (Item, error) {
	it := Item{ID: id}
	err := json.Unmarshal(data, &it.Reading)
	return it, err
}
