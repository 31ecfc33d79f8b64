// Package predict holds the customer-base models behind Tailor's predictions:
// BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way") for
// the number of future orders and the probability that a customer is still
// active, Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie
// 2013, "The Gamma-Gamma Model of Monetary Value") for the value of an order,
// and their combination into a discounted customer lifetime value.
//
// The package is pure math: no I/O, no clock. Its input per customer is
//
//	x   the number of repeat purchases (purchase days after the first one),
//	t_x the time of the last purchase, measured from the first one (0 if x = 0),
//	T   the customer's age: time from the first purchase to "now",
//	m   the mean value of the repeat purchases (only Gamma-Gamma uses it).
//
// Time is in weeks throughout (days/7, fractional), as in the papers, so the
// fitted parameters are comparable with the published ones; only α (the BG/NBD
// scale) depends on the unit. Horizons given to the functions are weeks too.
package predict
