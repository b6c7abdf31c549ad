package plivotest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WhatsApp identifiers the fake knows. WHATSAPP.md records the Plivo and
// WhatsApp documentation each request and callback shape follows.
const (
	// WhatsAppNumber is the WhatsApp Business number mapped to the fake
	// account: the only src the fake accepts for WhatsApp messages.
	WhatsAppNumber = "+14155550001"
	// WhatsAppTemplate is an approved authentication template (copy-code
	// button) the fake knows in WhatsAppLanguages; AddWhatsAppTemplate
	// adds more.
	WhatsAppTemplate = "go2fa_verification"
	// WhatsAppPaymentTemplate is an approved utility template the fake
	// knows in WhatsAppLanguages, whose body takes three text parameters
	// (code, amount, payee); AddWhatsAppUtilityTemplate adds more.
	WhatsAppPaymentTemplate = "go2fa_payment"
)

// WhatsAppLanguages returns the languages WhatsAppTemplate is approved
// in: en_US, pt_BR, es_MX and de.
func WhatsAppLanguages() []string { return []string{"en_US", "pt_BR", "es_MX", "de"} }

const whatsappType = "whatsapp"

// maxOTPLen is the longest one-time password WhatsApp takes in an
// authentication template.
const maxOTPLen = 15

// WhatsAppMessage is one WhatsApp template message accepted by the fake (a
// POST .../Message/ with type "whatsapp"); a plain value, safe to share.
type WhatsAppMessage struct {
	UUID     string
	Src      string
	Dst      string
	Template string
	Language string
	// Code is the body's parameter, and ButtonCode the copy-code button's
	// (WhatsApp requires both, equal, for an authentication template).
	Code       string
	ButtonCode string
	// Category is "authentication" or "utility".
	Category string
	// BodyParams are the body's text parameters of a utility template, in
	// order (nil for an authentication template).
	BodyParams []string
	// Log is the log parameter as sent ("" when absent, else "false" or
	// "true").
	Log string
	// Expiry is message_expiry in seconds (0 when absent).
	Expiry int
	URL    string // status-callback URL
	Method string // status-callback method
	// OnWhatsApp is false when the destination was marked with NoWhatsApp:
	// WhatsApp cannot deliver to it, and the test should report "failed".
	OnWhatsApp bool
}

// whatsappState is the fake's WhatsApp account; guarded by Server.mu.
type whatsappState struct {
	templates map[string]map[string]bool // authentication: name -> approved languages
	utility   map[string]utilityTemplate // utility: name -> template
	without   map[string]bool            // numbers without WhatsApp
	messages  []WhatsAppMessage
}

// utilityTemplate is an approved utility template: its languages and the
// number of body parameters ({{1}}..{{n}}) it takes.
type utilityTemplate struct {
	langs  map[string]bool
	params int
}

func (w *whatsappState) init() {
	if w.templates == nil {
		w.templates = map[string]map[string]bool{WhatsAppTemplate: set(WhatsAppLanguages())}
		w.utility = map[string]utilityTemplate{WhatsAppPaymentTemplate: {langs: set(WhatsAppLanguages()), params: 3}}
		w.without = map[string]bool{}
	}
}

func set(ls []string) map[string]bool {
	m := make(map[string]bool, len(ls))
	for _, l := range ls {
		m[l] = true
	}
	return m
}

// AddWhatsAppTemplate makes the fake know one more approved
// authentication template in the given languages (or adds languages to a
// known one).
func (s *Server) AddWhatsAppTemplate(name string, languages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wa.init()
	if s.wa.templates[name] == nil {
		s.wa.templates[name] = map[string]bool{}
	}
	for _, l := range languages {
		s.wa.templates[name][l] = true
	}
}

// AddWhatsAppUtilityTemplate makes the fake know an approved utility
// template whose body takes params text parameters, in the given
// languages (or adds languages to a known one).
func (s *Server) AddWhatsAppUtilityTemplate(name string, params int, languages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wa.init()
	u, ok := s.wa.utility[name]
	if !ok {
		u = utilityTemplate{langs: map[string]bool{}, params: params}
	}
	for _, l := range languages {
		u.langs[l] = true
	}
	s.wa.utility[name] = u
}

// NoWhatsApp marks numbers ("+" optional) as having no WhatsApp account.
// Messages to them are accepted, as Plivo accepts them, and recorded with
// OnWhatsApp false; WhatsApp's refusal arrives later as a "failed" status
// report (WhatsAppStatusRequest).
func (s *Server) NoWhatsApp(numbers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wa.init()
	for _, n := range numbers {
		s.wa.without[strings.TrimPrefix(n, "+")] = true
	}
}

// WhatsAppMessages returns every accepted WhatsApp message, oldest first.
func (s *Server) WhatsAppMessages() []WhatsAppMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WhatsAppMessage(nil), s.wa.messages...)
}

// LastWhatsApp returns the newest WhatsApp message to the number to ("+"
// optional).
func (s *Server) LastWhatsApp(to string) (WhatsAppMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.wa.messages) - 1; i >= 0; i-- {
		if sameNumber(s.wa.messages[i].Dst, to) {
			return s.wa.messages[i], true
		}
	}
	return WhatsAppMessage{}, false
}

// whatsappParams is the body of a WhatsApp template message, decoded as
// Plivo documents it (plivo-go's MessageCreateParams and Template).
type whatsappParams struct {
	Src      string          `json:"src"`
	Dst      string          `json:"dst"`
	Text     string          `json:"text"`
	Type     string          `json:"type"`
	URL      string          `json:"url"`
	Method   string          `json:"method"`
	Log      json.RawMessage `json:"log"`
	Expiry   int             `json:"message_expiry"`
	Template *struct {
		Name       string `json:"name"`
		Language   string `json:"language"`
		Components []struct {
			Type       string `json:"type"`
			SubType    string `json:"sub_type"`
			Index      string `json:"index"`
			Parameters []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"parameters"`
		} `json:"components"`
	} `json:"template"`
}

// whatsapp accepts or refuses a WhatsApp message.
func (s *Server) whatsapp(body []byte) (int, any) {
	var p whatsappParams
	if err := json.Unmarshal(body, &p); err != nil {
		return apiError(400, "malformed JSON body")
	}
	log, ok := logValue(p.Log)
	switch {
	case !sameNumber(p.Src, WhatsAppNumber):
		return apiError(400, "src is not a WhatsApp number of this account")
	case p.Dst == "" || !validNumber(p.Dst):
		return apiError(400, "invalid dst parameter")
	case p.Template == nil:
		// A business-initiated conversation must open with a template.
		return apiError(400, "template parameter is required")
	case p.Template.Name == "" || p.Template.Language == "":
		return apiError(400, "template name and language are required")
	case p.Text != "":
		return apiError(400, "text is not allowed with a template")
	case !ok:
		return apiError(400, "invalid log parameter")
	case p.Expiry != 0 && (p.Expiry < 5 || p.Expiry > 10799):
		return apiError(400, "message_expiry must be between 5 and 10799 seconds")
	case p.URL != "" && !absURL(p.URL):
		return apiError(400, "invalid url parameter")
	case p.Method != "" && p.Method != "GET" && p.Method != "POST":
		return apiError(400, "invalid method parameter")
	}
	s.mu.Lock()
	s.wa.init()
	langs := s.wa.templates[p.Template.Name]
	u, isUtility := s.wa.utility[p.Template.Name]
	s.mu.Unlock()
	if isUtility {
		return s.utilityMessage(p, u, log)
	}
	if langs == nil || !langs[p.Template.Language] {
		return apiError(400, "template does not exist in this language")
	}
	var bodyCode, buttonCode string
	var bodies, buttons int
	for _, c := range p.Template.Components {
		if len(c.Parameters) != 1 || c.Parameters[0].Type != "text" {
			return apiError(400, "an authentication template takes one text parameter per component")
		}
		switch {
		case c.Type == "body":
			bodies++
			bodyCode = c.Parameters[0].Text
		case c.Type == "button" && c.SubType == "url" && c.Index == "0":
			buttons++
			buttonCode = c.Parameters[0].Text
		default:
			return apiError(400, "unexpected component for an authentication template")
		}
	}
	switch {
	case bodies != 1 || buttons != 1:
		return apiError(400, "an authentication template needs the code in the body and in the copy-code button")
	case bodyCode == "" || len(bodyCode) > maxOTPLen || bodyCode != buttonCode:
		return apiError(400, "the body and button parameters must be the same code of at most 15 characters")
	}
	return s.accept(p, WhatsAppMessage{Category: "authentication", Code: bodyCode, ButtonCode: buttonCode, Log: log})
}

// utilityMessage accepts or refuses a message in utility template u: one
// body component holding exactly u.params non-empty text parameters, and
// nothing else (the template has no header or button parameters).
func (s *Server) utilityMessage(p whatsappParams, u utilityTemplate, log string) (int, any) {
	if !u.langs[p.Template.Language] {
		return apiError(400, "template does not exist in this language")
	}
	if len(p.Template.Components) != 1 || p.Template.Components[0].Type != "body" {
		return apiError(400, "this template takes one body component")
	}
	var params []string
	for _, prm := range p.Template.Components[0].Parameters {
		if prm.Type != "text" || prm.Text == "" {
			return apiError(400, "body parameters must be non-empty text")
		}
		params = append(params, prm.Text)
	}
	if len(params) != u.params {
		return apiError(400, "number of parameters does not match the expected number of params")
	}
	return s.accept(p, WhatsAppMessage{Category: "utility", BodyParams: params, Log: log})
}

// accept records m, completed from p, and answers as Plivo does.
func (s *Server) accept(p whatsappParams, m WhatsAppMessage) (int, any) {
	m.UUID, m.Src, m.Dst, m.Template, m.Language = newUUID(), p.Src, p.Dst, p.Template.Name, p.Template.Language
	m.Expiry, m.URL, m.Method = p.Expiry, p.URL, p.Method
	if m.URL != "" && m.Method == "" {
		m.Method = http.MethodPost
	}
	s.mu.Lock()
	m.OnWhatsApp = !s.wa.without[strings.TrimPrefix(p.Dst, "+")]
	s.wa.messages = append(s.wa.messages, m)
	s.mu.Unlock()
	return 202, map[string]any{"api_id": newUUID(), "message": "message(s) queued", "message_uuid": []string{m.UUID}}
}

// logValue reads the log parameter: absent, a boolean, or "true"/"false".
func logValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	var str string
	if json.Unmarshal(raw, &str) == nil && (str == "true" || str == "false") {
		return str, true
	}
	return "", false
}

// WhatsAppStatusParams returns the parameters Plivo sends to a WhatsApp
// message's status URL for status ("queued", "sent", "delivered", "read",
// "failed", "undelivered") and errorCode ("" for none): the message
// status callback attributes, with the WhatsApp-only ones.
func WhatsAppStatusParams(m WhatsAppMessage, status, errorCode string) url.Values {
	origin := m.Category
	if origin == "" {
		origin = "authentication"
	}
	v := url.Values{
		"MessageUUID":                     {m.UUID},
		"ParentMessageUUID":               {m.UUID},
		"To":                              {strings.TrimPrefix(m.Dst, "+")},
		"From":                            {strings.TrimPrefix(m.Src, "+")},
		"Type":                            {whatsappType},
		"Status":                          {status},
		"Units":                           {"1"},
		"TotalRate":                       {"0.00000"},
		"TotalAmount":                     {"0.00000"},
		"MCC":                             {"310"},
		"MNC":                             {"410"},
		"PartInfo":                        {"1 of 1"},
		"Sequence":                        {"1"},
		"MessageTime":                     {time.Now().UTC().Format("2006-01-02 15:04:05.000000")},
		"ConversationID":                  {strings.ReplaceAll(m.UUID, "-", "")},
		"ConversationOrigin":              {origin},
		"ConversationExpirationTimestamp": {strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10)},
	}
	if errorCode != "" {
		v.Set("ErrorCode", errorCode)
	}
	return v
}

// WhatsAppStatusRequest builds the status callback Plivo sends for m,
// signed as StatusRequest signs an SMS report: X-Plivo-Signature-V2,
// X-Plivo-Signature-Ma-V2 and X-Plivo-Signature-V2-Nonce.
func WhatsAppStatusRequest(m WhatsAppMessage, status, errorCode string) (*http.Request, error) {
	return WhatsAppStatusRequestAs(V2, m, status, errorCode)
}

// WhatsAppStatusRequestAs is WhatsAppStatusRequest signed with the
// headers of family sig.
func WhatsAppStatusRequestAs(sig Signature, m WhatsAppMessage, status, errorCode string) (*http.Request, error) {
	if m.URL == "" {
		return nil, errors.New("plivotest: whatsapp message has no status-callback URL")
	}
	return statusRequest(sig, m.Method, m.URL, WhatsAppStatusParams(m, status, errorCode))
}
