package demo

// city is where a customer lives. offset is the standard UTC offset in
// minutes (daylight saving is ignored: it only shapes the hour-of-day rhythm).
type city struct {
	name, country, tz, locale, phone string // phone: country calling code with "+"
	offset                           int
	names                            int   // index into namePools
	weight                           int64 // share of customers
}

var cities = []city{
	{"New York", "US", "America/New_York", "en-US", "+1", -300, 0, 90},
	{"Los Angeles", "US", "America/Los_Angeles", "en-US", "+1", -480, 0, 70},
	{"Chicago", "US", "America/Chicago", "en-US", "+1", -360, 0, 50},
	{"Austin", "US", "America/Chicago", "en-US", "+1", -360, 0, 30},
	{"Seattle", "US", "America/Los_Angeles", "en-US", "+1", -480, 0, 30},
	{"Denver", "US", "America/Denver", "en-US", "+1", -420, 0, 25},
	{"Miami", "US", "America/New_York", "es-US", "+1", -300, 3, 20},
	{"Toronto", "CA", "America/Toronto", "en-CA", "+1", -300, 0, 30},
	{"Montreal", "CA", "America/Toronto", "fr-CA", "+1", -300, 1, 15},
	{"Vancouver", "CA", "America/Vancouver", "en-CA", "+1", -480, 0, 15},
	{"London", "GB", "Europe/London", "en-GB", "+44", 0, 0, 60},
	{"Manchester", "GB", "Europe/London", "en-GB", "+44", 0, 0, 20},
	{"Dublin", "IE", "Europe/Dublin", "en-IE", "+353", 0, 0, 12},
	{"Paris", "FR", "Europe/Paris", "fr-FR", "+33", 60, 1, 45},
	{"Lyon", "FR", "Europe/Paris", "fr-FR", "+33", 60, 1, 15},
	{"Berlin", "DE", "Europe/Berlin", "de-DE", "+49", 60, 2, 40},
	{"Munich", "DE", "Europe/Berlin", "de-DE", "+49", 60, 2, 20},
	{"Madrid", "ES", "Europe/Madrid", "es-ES", "+34", 60, 3, 25},
	{"Barcelona", "ES", "Europe/Madrid", "es-ES", "+34", 60, 3, 15},
	{"Milan", "IT", "Europe/Rome", "it-IT", "+39", 60, 4, 20},
	{"Amsterdam", "NL", "Europe/Amsterdam", "nl-NL", "+31", 60, 5, 15},
	{"Stockholm", "SE", "Europe/Stockholm", "sv-SE", "+46", 60, 6, 10},
	{"Warsaw", "PL", "Europe/Warsaw", "pl-PL", "+48", 60, 7, 10},
	{"São Paulo", "BR", "America/Sao_Paulo", "pt-BR", "+55", -180, 8, 20},
	{"Mexico City", "MX", "America/Mexico_City", "es-MX", "+52", -360, 3, 15},
	{"Tokyo", "JP", "Asia/Tokyo", "ja-JP", "+81", 540, 9, 20},
	{"Sydney", "AU", "Australia/Sydney", "en-AU", "+61", 600, 0, 20},
	{"Melbourne", "AU", "Australia/Melbourne", "en-AU", "+61", 600, 0, 12},
	{"Bengaluru", "IN", "Asia/Kolkata", "en-IN", "+91", 330, 10, 15},
	{"Singapore", "SG", "Asia/Singapore", "en-SG", "+65", 480, 0, 8},
}

// namePools holds first and last names per language group. Names are plain
// letters (with accents); asciiFold makes the email local parts.
var namePools = []struct{ first, last []string }{
	{ // 0 English
		[]string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Susan", "Emma", "Olivia", "Liam", "Noah", "Ava", "Sophia", "Mia", "Ethan", "Chloe", "Grace", "Jack", "Harry", "Amelia", "Oliver", "Isla", "Lucas", "Zoe", "Hannah"},
		[]string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "O'Brien", "Murphy", "Kelly", "Campbell"},
	},
	{ // 1 French
		[]string{"Léa", "Chloé", "Camille", "Manon", "Inès", "Jade", "Louis", "Gabriel", "Hugo", "Arthur", "Jules", "Raphaël", "Théo", "Élodie", "Mathilde", "Antoine", "Lucie", "Nicolas"},
		[]string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Fournier", "Girard", "Bonnet"},
	},
	{ // 2 German
		[]string{"Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Mia", "Emilia", "Hanna", "Lena", "Lea", "Anna", "Jürgen", "Katrin", "Sabine", "Matthias", "Sophie", "Maximilian"},
		[]string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun", "Zimmermann"},
	},
	{ // 3 Spanish
		[]string{"Lucía", "Sofía", "Martina", "María", "Paula", "Valentina", "Hugo", "Mateo", "Martín", "Alejandro", "Pablo", "Daniel", "Javier", "Carmen", "Diego", "Isabel", "Andrés", "Elena"},
		[]string{"García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Álvarez", "Romero", "Torres"},
	},
	{ // 4 Italian
		[]string{"Giulia", "Sofia", "Aurora", "Alice", "Ginevra", "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Matteo", "Marco", "Chiara", "Luca", "Federica"},
		[]string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca"},
	},
	{ // 5 Dutch
		[]string{"Daan", "Sem", "Lucas", "Milan", "Emma", "Julia", "Tess", "Sophie", "Anna", "Bram", "Sanne", "Thijs"},
		[]string{"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder"},
	},
	{ // 6 Swedish
		[]string{"Alice", "Maja", "Elsa", "Astrid", "Wilma", "William", "Oscar", "Hugo", "Elias", "Erik", "Karin", "Lars"},
		[]string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Lindberg", "Lindström"},
	},
	{ // 7 Polish
		[]string{"Zuzanna", "Julia", "Maja", "Hanna", "Antoni", "Jan", "Jakub", "Aleksander", "Szymon", "Katarzyna", "Piotr", "Agnieszka"},
		[]string{"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski"},
	},
	{ // 8 Portuguese (Brazil)
		[]string{"Miguel", "Arthur", "Heitor", "Helena", "Alice", "Laura", "Valentina", "Davi", "Gabriel", "Beatriz", "João", "Ana"},
		[]string{"Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes", "Costa", "Ribeiro"},
	},
	{ // 9 Japanese (romanized)
		[]string{"Haruto", "Yuto", "Sota", "Yui", "Hina", "Aoi", "Sakura", "Ren", "Yuki", "Kenji", "Akiko", "Takumi"},
		[]string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada"},
	},
	{ // 10 Indian
		[]string{"Aarav", "Vivaan", "Aditya", "Vihaan", "Ananya", "Diya", "Saanvi", "Priya", "Rohan", "Arjun", "Kavya", "Ishaan"},
		[]string{"Sharma", "Verma", "Gupta", "Patel", "Reddy", "Iyer", "Nair", "Singh", "Kumar", "Rao", "Mehta", "Joshi"},
	},
}

// foldPairs maps the accented letters the name pools use to ASCII.
var foldPairs = [...]struct {
	from string
	to   string
}{
	{"á", "a"}, {"à", "a"}, {"â", "a"}, {"ä", "a"}, {"ã", "a"}, {"ą", "a"}, {"Á", "a"},
	{"é", "e"}, {"è", "e"}, {"ê", "e"}, {"ë", "e"}, {"ę", "e"}, {"É", "e"},
	{"í", "i"}, {"ï", "i"}, {"ó", "o"}, {"ö", "o"}, {"ô", "o"}, {"õ", "o"},
	{"ú", "u"}, {"ü", "u"}, {"ñ", "n"}, {"ń", "n"}, {"ç", "c"}, {"ć", "c"},
	{"ł", "l"}, {"ś", "s"}, {"ź", "z"}, {"ż", "z"}, {"ß", "ss"},
}

// emailPart lowercases a name, folds accents to ASCII and keeps letters only,
// so an email local part never holds digits except the customer number.
func emailPart(s string) string {
	b := make([]byte, 0, len(s))
outer:
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c)
			i++
			continue
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
			i++
			continue
		case c < 0x80:
			i++ // space, apostrophe, hyphen
			continue
		}
		for _, f := range foldPairs {
			if len(s)-i >= len(f.from) && s[i:i+len(f.from)] == f.from {
				b = append(b, f.to...)
				i += len(f.from)
				continue outer
			}
		}
		i++ // unknown non-ASCII byte: drop it
	}
	return string(b)
}

// Browser user agents for web devices; the first desktopAgents are desktop.
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
}

const desktopAgents = 5

// Mobile app devices (screen calls instead of page calls).
var appDevices = []struct{ ua, device, os, osVersion string }{
	{"TailorShop/4.2.0 (iPhone; iOS 18.1)", `{"type":"ios","manufacturer":"Apple","model":"iPhone16,1"}`, "iOS", "18.1"},
	{"TailorShop/4.2.0 (iPhone; iOS 17.6)", `{"type":"ios","manufacturer":"Apple","model":"iPhone14,5"}`, "iOS", "17.6"},
	{"TailorShop/4.1.3 (Android 14; Pixel 8)", `{"type":"android","manufacturer":"Google","model":"Pixel 8"}`, "Android", "14"},
	{"TailorShop/4.1.3 (Android 13; SM-A546B)", `{"type":"android","manufacturer":"Samsung","model":"SM-A546B"}`, "Android", "13"},
}
